mod config;
mod error;
mod event;
mod machine;
mod options;
mod outbox;
mod requester;
mod stats;
mod wire;

pub use config::Config;
pub use error::{InvalidArgument, MalformedReply, QueryError};
pub use event::{Event, PrimeHandle, RequestId};
pub use machine::{DiscoMachine, Handled};
pub use options::{QueryOptions, Timeout};
pub use requester::Cached;
pub use stats::Stats;
