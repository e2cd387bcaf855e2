/* The floors the bus benchmarks compare against (scripts/bench/*.sh compile this).
 *   floor post FILE          one message: open(O_APPEND) + flock + write + close
 *   floor loop FILE N SIZE   N messages of SIZE bytes: flock + write + unlock each,
 *                            file kept open (the in-process floor)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    if (strcmp(argv[1], "post") == 0) {
        const char rec[] = "---\ntype: INFO\n---\nhello from the floor\n";
        if (flock(fd, LOCK_EX) != 0) { perror("flock"); return 1; }
        if (write(fd, rec, sizeof rec - 1) != (ssize_t)(sizeof rec - 1)) { perror("write"); return 1; }
        close(fd);
        return 0;
    }
    long n = atol(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    char *buf = malloc(size);
    memset(buf, 'x', size);
    memcpy(buf, "---\n", 4);
    buf[size - 1] = '\n';
    for (long i = 0; i < n; i++) {
        if (flock(fd, LOCK_EX) != 0) { perror("flock"); return 1; }
        if (write(fd, buf, size) != (ssize_t)size) { perror("write"); return 1; }
        flock(fd, LOCK_UN);
    }
    return 0;
}
