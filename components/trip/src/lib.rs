//! What the Summer-Trip components share: id and text validation, paging,
//! the graph's labels, and the lookups that tie the databases together
//! (a friendship, a membership or a message names users that exist in SQL).

pub mod ids;
pub mod paging;
pub mod patch;
pub mod people;
pub mod records;
pub mod text;

pub use ids::{new_id, parse_id, timestamp_of};
pub use paging::Page;
pub use people::{GroupRef, UserRef};
