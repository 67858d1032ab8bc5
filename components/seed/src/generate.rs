//! The data, generated deterministically from the seed: the same plan
//! always makes the same users, groups, links, messages and files. Each
//! stage draws from its own generator, so one size does not change the
//! others' data.

use std::collections::HashSet;

use fake::Fake;
use fake::faker::address::en::CityName;
use fake::faker::company::en::{Buzzword, CatchPhrase};
use fake::faker::internet::en::FreeEmailProvider;
use fake::faker::lorem::en::{Paragraphs, Sentence, Word};
use fake::faker::name::en::{FirstName, LastName};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use uuid::Uuid;

/// 2025-01-01T00:00:00Z: generated times fall in the year that follows.
const EPOCH_MICROS: i64 = 1_735_689_600_000_000;
const YEAR_MICROS: i64 = 365 * 24 * 3600 * 1_000_000;
/// The most friends, groups per user and members per group the API allows.
pub const MAX_LINKS: usize = 1000;

/// A generator for one stage of one seed.
pub fn rng(seed: u64, stage: &str) -> StdRng {
    let tag = stage.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    StdRng::seed_from_u64(seed ^ tag)
}

/// A UUIDv7 for the millisecond of `micros`, its random bits from `rng`.
fn id_at(rng: &mut StdRng, micros: i64) -> Uuid {
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis((micros / 1000) as u64, &bytes).into_uuid()
}

/// A time in the generated year, to the millisecond (as ids record it).
fn time_in_year(rng: &mut StdRng) -> i64 {
    EPOCH_MICROS + rng.random_range(0..YEAR_MICROS) / 1000 * 1000
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub created_at: i64,
}

/// `n` users with unique emails (the seed and the user's number are part
/// of each, so batches of different seeds never collide).
pub fn users(seed: u64, n: u32) -> Vec<User> {
    let mut rng = rng(seed, "users");
    let mut users: Vec<User> = (0..n)
        .map(|i| {
            let first: String = FirstName().fake_with_rng(&mut rng);
            let last: String = LastName().fake_with_rng(&mut rng);
            let domain: String = FreeEmailProvider().fake_with_rng(&mut rng);
            let created_at = time_in_year(&mut rng);
            User {
                id: id_at(&mut rng, created_at),
                email: format!("{}.{}.{seed}-{i}@{domain}", slug(&first), slug(&last)),
                name: format!("{first} {last}"),
                created_at,
            }
        })
        .collect();
    users.sort_by_key(|u| u.id);
    users
}

fn slug(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

/// `n` groups with unique names.
pub fn groups(seed: u64, n: u32) -> Vec<Group> {
    let mut rng = rng(seed, "groups");
    let mut groups: Vec<Group> = (0..n)
        .map(|i| {
            let city: String = CityName().fake_with_rng(&mut rng);
            let theme: String = Buzzword().fake_with_rng(&mut rng);
            let created_at = time_in_year(&mut rng);
            Group {
                id: id_at(&mut rng, created_at),
                name: format!("{city} {theme} trip #{seed}-{i}"),
                description: CatchPhrase().fake_with_rng(&mut rng),
                created_at,
            }
        })
        .collect();
    groups.sort_by_key(|g| g.id);
    groups
}

/// Heavy-tailed weights (Pareto, α = 2.5): most are near 1, a few are large.
fn pareto_weights(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| (1.0 - rng.random::<f64>()).powf(-1.0 / 1.5))
        .collect()
}

/// Picks indexes in proportion to `weights`.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(weights: &[f64]) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Self { cumulative }
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let total = *self.cumulative.last().expect("at least one weight");
        let target = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c <= target)
            .min(self.cumulative.len() - 1)
    }
}

/// Friendships as index pairs `(a, b)` with `a < b`, about `per_user`
/// friends per user on average with a heavy-tailed degree distribution
/// (a Chung–Lu graph): a few users have many friends, most have few. No
/// user gets more than [`MAX_LINKS`].
pub fn friendships(seed: u64, users: usize, per_user: u32) -> Vec<(usize, usize)> {
    if users < 2 || per_user == 0 {
        return Vec::new();
    }
    let mut rng = rng(seed, "friendships");
    let weights = Weighted::new(&pareto_weights(&mut rng, users));
    let wanted = (users * per_user as usize / 2).min(users * (users - 1) / 2);
    let mut degree = vec![0usize; users];
    let mut pairs = HashSet::with_capacity(wanted);
    let mut attempts = 0;
    while pairs.len() < wanted && attempts < wanted * 20 {
        attempts += 1;
        let (a, b) = (weights.pick(&mut rng), weights.pick(&mut rng));
        let pair = (a.min(b), a.max(b));
        if a == b || degree[a] >= MAX_LINKS || degree[b] >= MAX_LINKS || !pairs.insert(pair) {
            continue;
        }
        degree[a] += 1;
        degree[b] += 1;
    }
    let mut pairs: Vec<_> = pairs.into_iter().collect();
    pairs.sort_unstable();
    pairs
}

/// Memberships as `(user, group)` index pairs: most users join one to
/// three groups, some none; popular groups draw more members. No group
/// gets more than [`MAX_LINKS`] members.
pub fn memberships(seed: u64, users: usize, groups: usize) -> Vec<(usize, usize)> {
    if groups == 0 {
        return Vec::new();
    }
    let mut rng = rng(seed, "memberships");
    let popularity: Vec<f64> = (0..groups)
        .map(|rank| 1.0 / (rank as f64 + 1.0).powf(0.8))
        .collect();
    let weights = Weighted::new(&popularity);
    let mut size = vec![0usize; groups];
    let mut pairs = Vec::new();
    for user in 0..users {
        let joins = [0, 1, 1, 1, 2, 2, 3, 5][rng.random_range(0..8)].min(groups);
        let mut joined = HashSet::new();
        for _ in 0..joins * 4 {
            if joined.len() == joins {
                break;
            }
            let group = weights.pick(&mut rng);
            if size[group] < MAX_LINKS && joined.insert(group) {
                size[group] += 1;
                pairs.push((user, group));
            }
        }
    }
    pairs
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: Uuid,
    pub conversation: Uuid,
    pub author: Uuid,
    pub content: String,
    pub sent_at: i64,
}

/// `n` messages in the groups' conversations (busier groups get more),
/// each by a member of its group when it has members; sorted by
/// conversation, so that batches fill whole partitions.
pub fn messages(
    seed: u64,
    n: u32,
    groups: &[Group],
    members: &[Vec<Uuid>],
    users: &[User],
) -> Vec<Message> {
    if groups.is_empty() || users.is_empty() {
        return Vec::new();
    }
    let mut rng = rng(seed, "messages");
    let activity: Vec<f64> = (0..groups.len())
        .map(|rank| 1.0 / (rank as f64 + 1.0))
        .collect();
    let weights = Weighted::new(&activity);
    let mut messages: Vec<Message> = (0..n)
        .map(|_| {
            let group = weights.pick(&mut rng);
            let author = match members[group].as_slice() {
                [] => users[rng.random_range(0..users.len())].id,
                members => members[rng.random_range(0..members.len())],
            };
            let sent_at = time_in_year(&mut rng);
            Message {
                id: id_at(&mut rng, sent_at),
                conversation: groups[group].id,
                author,
                content: Sentence(3..16).fake_with_rng(&mut rng),
                sent_at,
            }
        })
        .collect();
    messages.sort_by_key(|m| (m.conversation, m.id));
    messages
}

#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub user: Uuid,
    pub kind: &'static str,
    pub content: String,
    pub read: bool,
    pub created_at: i64,
}

/// Two notifications per user on average, most of them read.
pub fn notifications(seed: u64, users: &[User]) -> Vec<Notification> {
    let mut rng = rng(seed, "notifications");
    let mut out = Vec::new();
    for user in users {
        for _ in 0..rng.random_range(0..5) {
            let other = &users[rng.random_range(0..users.len())];
            let (kind, content) = match rng.random_range(0..3) {
                0 => (
                    "friend_request",
                    format!("{} wants to be your friend", other.name),
                ),
                1 => ("message", format!("{} sent you a message", other.name)),
                _ => (
                    "group_invite",
                    format!("{} invited you to a trip", other.name),
                ),
            };
            let created_at = time_in_year(&mut rng);
            out.push(Notification {
                id: id_at(&mut rng, created_at),
                user: user.id,
                kind,
                content,
                read: rng.random_bool(0.6),
                created_at,
            });
        }
    }
    out.sort_by_key(|n| (n.user, n.id));
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// `n` files: PNG images (gradients in generated colours) and text notes.
pub fn files(seed: u64, n: u32) -> Vec<File> {
    let mut rng = rng(seed, "files");
    (0..n)
        .map(|i| {
            let word: String = Word().fake_with_rng(&mut rng);
            if i % 2 == 0 {
                let (w, h) = (rng.random_range(32..257u32), rng.random_range(32..257u32));
                let [r, g, b]: [u8; 3] = rng.random();
                let body = crate::png::encode(w, h, |x, y| {
                    [r ^ (x * 255 / w) as u8, g ^ (y * 255 / h) as u8, b]
                });
                File {
                    name: format!("{word}-{seed}-{i}.png"),
                    content_type: "image/png",
                    body,
                }
            } else {
                let paragraphs: Vec<String> = Paragraphs(1..6).fake_with_rng(&mut rng);
                let body = paragraphs.join("\n\n").into_bytes();
                File {
                    name: format!("{word}-{seed}-{i}.txt"),
                    content_type: "text/plain; charset=utf-8",
                    body,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_data_and_another_seed_other_data() {
        assert_eq!(users(7, 50), users(7, 50));
        assert_eq!(friendships(7, 50, 5), friendships(7, 50, 5));
        assert_eq!(files(7, 3), files(7, 3));
        assert_ne!(users(7, 5), users(8, 5));
    }

    #[test]
    fn emails_and_group_names_are_unique_across_seeds() {
        let mut emails = HashSet::new();
        for seed in [1, 2] {
            for user in users(seed, 500) {
                assert!(emails.insert(user.email.clone()), "{}", user.email);
                assert!(user.email.is_ascii() && !user.email.contains(' '));
            }
        }
        let names: HashSet<String> = groups(1, 200).into_iter().map(|g| g.name).collect();
        assert_eq!(names.len(), 200);
    }

    #[test]
    fn ids_are_v7_and_carry_the_creation_time() {
        for user in users(3, 20) {
            assert_eq!(user.id.get_version_num(), 7);
            let (secs, nanos) = user.id.get_timestamp().unwrap().to_unix();
            assert_eq!(
                secs as i64 * 1_000_000 + i64::from(nanos / 1000),
                user.created_at
            );
        }
    }

    #[test]
    fn friend_degrees_are_skewed_and_bounded() {
        let pairs = friendships(5, 2000, 10);
        assert!(pairs.len() > 9000, "{}", pairs.len());
        let mut degree = vec![0usize; 2000];
        for (a, b) in &pairs {
            assert!(a < b);
            degree[*a] += 1;
            degree[*b] += 1;
        }
        degree.sort_unstable();
        let median = degree[1000];
        let top = degree[1999];
        assert!(top > 5 * median, "median {median}, top {top}");
        assert!(top <= MAX_LINKS);
    }

    #[test]
    fn memberships_are_unique_per_user_and_group() {
        let pairs = memberships(9, 300, 20);
        let unique: HashSet<_> = pairs.iter().collect();
        assert_eq!(unique.len(), pairs.len());
        assert!(pairs.iter().all(|(u, g)| *u < 300 && *g < 20));
    }

    #[test]
    fn messages_are_by_members_of_their_group() {
        let users = users(4, 30);
        let groups = groups(4, 3);
        let members: Vec<Vec<Uuid>> = vec![
            users[..5].iter().map(|u| u.id).collect(),
            vec![],
            vec![users[9].id],
        ];
        for m in messages(4, 200, &groups, &members, &users) {
            let g = groups.iter().position(|g| g.id == m.conversation).unwrap();
            assert!(members[g].is_empty() || members[g].contains(&m.author));
            assert_eq!(m.id.get_version_num(), 7);
        }
    }
}
