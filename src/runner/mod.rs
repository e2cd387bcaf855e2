//! Running agents: spawning in their own session, the Ralph loop, signals and stopping.

pub(crate) mod backoff;
pub(crate) mod budget;
pub(crate) mod descendants;
pub(crate) mod env;
pub(crate) mod heal;
pub(crate) mod job;
pub(crate) mod leftovers;
pub(crate) mod preamble;
pub(crate) mod process_unix;
pub(crate) mod ralph;
pub(crate) mod shutdown;
pub(crate) mod stop;
pub(crate) mod unix;
pub(crate) mod wait;
