//! The integrity of the audit trail: a SHA-256 hash chain per region, and
//! digests MACed inside the guest.
//!
//! Each event's hash covers, in an unambiguous length-prefixed encoding, the
//! region, its position, the previous event's hash and the hash of the
//! event JSON exactly as stored ([`event_hash`]: computed before the log's
//! lock is taken, so that only a short hash is made in order under it).
//! Editing, deleting or inserting an event breaks the
//! link at that position, unless whoever did it also rewrote every later
//! hash. That is what digests stop: a digest names a position and the hash
//! there, chains to the previous digest through its MAC, and is MACed with a
//! key derived from the domain key inside the guest, so that whoever can
//! write the store cannot make one. As with CloudTrail's digest files, what
//! a digest covers is fixed; events after the newest digest are protected by
//! the hash chain only until the next digest is made.

use sha2::{Digest, Sha256};

pub use crate::store::HASH_LEN;
use crate::store::{DigestRecord, StoredEvent};

const EVENT_DOMAIN: &[u8] = b"keyward/v2/audit-event";
const LINK_DOMAIN: &[u8] = b"keyward/v2/audit-link";
const LINK_V1_DOMAIN: &[u8] = b"keyward/v1/audit-event";
const DIGEST_DOMAIN: &[u8] = b"keyward/v1/audit-digest";

fn put(hasher: &mut impl Digest, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// The hash of an event's JSON, which its link covers.
pub fn event_hash(json: &str) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    put(&mut hasher, EVENT_DOMAIN);
    put(&mut hasher, json.as_bytes());
    hasher.finalize().into()
}

/// The hash of the event at `seq` of `region`'s chain, which follows the
/// event whose hash is `prev` and whose JSON hashes to `event_hash`.
pub fn link(
    prev: &[u8; HASH_LEN],
    region: &str,
    seq: i64,
    event_hash: &[u8; HASH_LEN],
) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    put(&mut hasher, LINK_DOMAIN);
    put(&mut hasher, region.as_bytes());
    hasher.update(seq.to_be_bytes());
    hasher.update(prev);
    hasher.update(event_hash);
    hasher.finalize().into()
}

/// The link of events written before keyward 0.1.0's log files kept
/// [`event_hash`]es (the hash of the JSON itself, in one pass). Those events
/// keep their hashes, and verification accepts either link: forging an
/// event still means finding a SHA-256 preimage under one of them.
pub fn link_v1(prev: &[u8; HASH_LEN], region: &str, seq: i64, json: &str) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    put(&mut hasher, LINK_V1_DOMAIN);
    put(&mut hasher, region.as_bytes());
    hasher.update(seq.to_be_bytes());
    hasher.update(prev);
    put(&mut hasher, json.as_bytes());
    hasher.finalize().into()
}

/// `hash` if it is the hash of the event at `seq` of `region`'s chain
/// whose JSON is `json` and which follows the event whose hash is `prev`,
/// linked as keyward links events or as older keywards did.
pub fn follows(
    prev: &[u8; HASH_LEN],
    region: &str,
    seq: i64,
    json: &str,
    hash: &[u8],
) -> Option<[u8; HASH_LEN]> {
    let hash: [u8; HASH_LEN] = hash.try_into().ok()?;
    let linked = link(prev, region, seq, &event_hash(json)) == hash
        || link_v1(prev, region, seq, json) == hash;
    linked.then_some(hash)
}

/// The bytes a digest's MAC covers: everything in it but the MAC.
pub fn digest_message(digest: &DigestRecord) -> Vec<u8> {
    let mut message = Vec::with_capacity(160);
    for field in [
        DIGEST_DOMAIN,
        digest.region.as_bytes(),
        &digest.prev_mac,
        &digest.through_hash,
    ] {
        message.extend_from_slice(&(field.len() as u64).to_be_bytes());
        message.extend_from_slice(field);
    }
    message.extend_from_slice(&digest.number.to_be_bytes());
    message.extend_from_slice(&digest.through_seq.to_be_bytes());
    message.extend_from_slice(&digest.time_ms.to_be_bytes());
    message
}

/// What `keyward audit verify` found in one region's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionReport {
    /// The region.
    pub region: String,
    /// How many events it holds.
    pub events: i64,
    /// How many digests it holds.
    pub digests: i64,
    /// The last position the newest valid digest covers (0 if none).
    pub digested_through: i64,
    /// The first position that fails, and why; `None` if the chain is
    /// intact.
    pub first_bad: Option<BadPosition>,
}

/// The first position of a chain that fails verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadPosition {
    /// The position (event sequence number) in the region's chain.
    pub position: i64,
    /// What is wrong there.
    pub problem: String,
}

/// Walks one region's chain, checking as it goes. Events are fed in order
/// with [`Walker::event`]; [`Walker::finish`] checks the digests against
/// what was seen.
#[derive(Debug)]
pub struct Walker {
    region: String,
    expected: i64,
    prev: [u8; HASH_LEN],
    /// Digest positions and the hash each expects there, in order.
    checkpoints: Vec<(i64, Vec<u8>)>,
    next_checkpoint: usize,
    digests: i64,
    digested_through: i64,
    first_bad: Option<BadPosition>,
}

impl Walker {
    /// Starts a walk over `region`, whose digests are `digests` (oldest
    /// first). `mac_ok` checks a digest's MAC (in the guest).
    pub fn new(
        region: &str,
        digests: &[DigestRecord],
        mut mac_ok: impl FnMut(&DigestRecord) -> bool,
    ) -> Self {
        let mut walker = Self {
            region: region.to_owned(),
            expected: 1,
            prev: [0; HASH_LEN],
            checkpoints: Vec::new(),
            next_checkpoint: 0,
            digests: i64::try_from(digests.len()).unwrap_or(i64::MAX),
            digested_through: 0,
            first_bad: None,
        };
        let mut prev_mac: &[u8] = &[];
        let mut through = 0;
        for (index, digest) in digests.iter().enumerate() {
            let number = i64::try_from(index).unwrap_or(i64::MAX) + 1;
            let problem = if digest.number != number {
                Some(format!("digest {number} is missing"))
            } else if digest.prev_mac != prev_mac {
                Some(format!(
                    "digest {number} does not follow digest {}",
                    number - 1
                ))
            } else if digest.through_seq < through {
                Some(format!("digest {number} goes backwards"))
            } else if !mac_ok(digest) {
                Some(format!("digest {number} is not signed by this key store"))
            } else {
                None
            };
            if let Some(problem) = problem {
                walker.bad(digest.through_seq.max(1), problem);
                break;
            }
            walker
                .checkpoints
                .push((digest.through_seq, digest.through_hash.clone()));
            walker.digested_through = digest.through_seq;
            prev_mac = &digest.mac;
            through = digest.through_seq;
        }
        walker
    }

    /// What of the line around an event, outside the hash but read by
    /// queries, exports and the last-use records, disagrees with the
    /// event: its region or its time.
    fn line_disagrees(&self, event: &StoredEvent) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Time {
            #[serde(rename = "eventTime")]
            event_time: String,
        }
        if event.region != self.region {
            return Some(format!(
                "names region {:?}, not its chain's {:?}",
                event.region, self.region
            ));
        }
        let stated = serde_json::from_str::<Time>(&event.json).ok()?.event_time;
        (!super::in_second(event.time_ms, &stated)).then(|| {
            let time = super::iso8601(event.time_ms);
            format!("gives the time {time}, its event {stated}")
        })
    }

    fn bad(&mut self, position: i64, problem: String) {
        match &self.first_bad {
            Some(bad) if bad.position <= position => {}
            _ => self.first_bad = Some(BadPosition { position, problem }),
        }
    }

    /// Whether the walk has already found a problem at or before every
    /// position still to come, so that reading further is pointless.
    pub fn done(&self) -> bool {
        self.first_bad
            .as_ref()
            .is_some_and(|bad| bad.position <= self.expected)
    }

    /// Reports the next line of the log as one that cannot be read.
    pub fn unreadable(&mut self, problem: &str) {
        let position = self.expected;
        self.bad(
            position,
            format!("event {position} cannot be read: {problem}"),
        );
    }

    /// Checks the next stored event.
    pub fn event(&mut self, event: &StoredEvent) {
        if self.done() {
            return;
        }
        let position = self.expected;
        if event.seq != position {
            self.bad(
                position,
                format!(
                    "event {position} is missing (the next stored is {})",
                    event.seq
                ),
            );
            return;
        }
        let Some(hash) = follows(&self.prev, &self.region, position, &event.json, &event.hash)
        else {
            self.bad(
                position,
                format!("event {position} does not match its hash (edited)"),
            );
            return;
        };
        if let Some(problem) = self.line_disagrees(event) {
            self.bad(
                position,
                format!("event {position}'s line {problem} (edited)"),
            );
            return;
        }
        while let Some((at, expected_hash)) = self.checkpoints.get(self.next_checkpoint) {
            if *at > position {
                break;
            }
            if *at == position && expected_hash.as_slice() != hash.as_slice() {
                self.bad(
                    position,
                    format!("event {position} differs from what a digest recorded"),
                );
                return;
            }
            self.next_checkpoint += 1;
        }
        self.prev = hash;
        self.expected += 1;
    }

    /// Ends the walk: a digest past the last event means the tail was cut.
    pub fn finish(mut self) -> RegionReport {
        let events = self.expected - 1;
        if !self.done() && self.digested_through > events {
            self.bad(
                events + 1,
                format!(
                    "events {} to {} are missing (a digest covers them)",
                    events + 1,
                    self.digested_through
                ),
            );
        }
        RegionReport {
            region: self.region,
            events,
            digests: self.digests,
            digested_through: self.digested_through,
            first_bad: self.first_bad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` events, of which the first `v1` are linked as older keywards did.
    fn chain_from_v1(n: i64, v1: i64) -> Vec<StoredEvent> {
        let mut prev = [0; HASH_LEN];
        (1..=n)
            .map(|seq| {
                let json = format!("{{\"n\":{seq}}}");
                let hash = if seq <= v1 {
                    link_v1(&prev, "r", seq, &json)
                } else {
                    link(&prev, "r", seq, &event_hash(&json))
                };
                let event = StoredEvent {
                    region: "r".into(),
                    seq,
                    time_ms: seq,
                    json,
                    hash: hash.to_vec(),
                };
                prev = hash;
                event
            })
            .collect()
    }

    fn chain(n: i64) -> Vec<StoredEvent> {
        chain_from_v1(n, 0)
    }

    fn digest(events: &[StoredEvent], number: i64, through: i64, prev_mac: &[u8]) -> DigestRecord {
        DigestRecord {
            region: "r".into(),
            number,
            through_seq: through,
            through_hash: events[usize::try_from(through - 1).unwrap()].hash.clone(),
            time_ms: 0,
            prev_mac: prev_mac.to_vec(),
            mac: vec![u8::try_from(number).unwrap()],
        }
    }

    fn walk(events: &[StoredEvent], digests: &[DigestRecord]) -> RegionReport {
        let mut walker = Walker::new("r", digests, |_| true);
        for event in events {
            walker.event(event);
        }
        walker.finish()
    }

    #[test]
    fn an_intact_chain_verifies_and_each_kind_of_damage_is_placed() {
        let events = chain(10);
        let d1 = digest(&events, 1, 4, &[]);
        let d2 = digest(&events, 2, 8, &d1.mac);
        let digests = [d1, d2];
        let report = walk(&events, &digests);
        assert_eq!(report.first_bad, None);
        assert_eq!((report.events, report.digested_through), (10, 8));

        let mut edited = events.clone();
        edited[5].json = "{\"n\":99}".into();
        assert_eq!(walk(&edited, &digests).first_bad.unwrap().position, 6);

        let mut deleted = events.clone();
        deleted.remove(2);
        assert_eq!(walk(&deleted, &digests).first_bad.unwrap().position, 3);

        // Truncation past the newest digest.
        let cut = &events[..6];
        let bad = walk(cut, &digests).first_bad.unwrap();
        assert_eq!(bad.position, 7, "{}", bad.problem);
        // Truncation after it is the undigested tail: not detectable.
        assert_eq!(walk(&events[..9], &digests).first_bad, None);

        // A rewritten chain (hashes recomputed after an edit) is caught by
        // the digest covering it.
        let mut rewritten = events.clone();
        rewritten[1].json = "{\"n\":-2}".into();
        let mut prev: [u8; HASH_LEN] = rewritten[0].hash.clone().try_into().unwrap();
        for event in &mut rewritten[1..] {
            let hash = link(&prev, "r", event.seq, &event_hash(&event.json));
            event.hash = hash.to_vec();
            prev = hash;
        }
        assert_eq!(walk(&rewritten, &digests).first_bad.unwrap().position, 4);

        // A forged digest.
        let mut walker = Walker::new("r", &digests, |d| d.number != 2);
        for event in &events {
            walker.event(event);
        }
        assert_eq!(walker.finish().first_bad.unwrap().position, 8);
    }

    #[test]
    fn events_linked_as_older_keywards_did_verify_and_their_edits_are_caught() {
        let events = chain_from_v1(6, 3);
        let d1 = digest(&events, 1, 5, &[]);
        assert_eq!(walk(&events, std::slice::from_ref(&d1)).first_bad, None);
        for at in [1, 4] {
            let mut edited = events.clone();
            edited[at].json = "{\"n\":99}".into();
            let bad = walk(&edited, std::slice::from_ref(&d1)).first_bad.unwrap();
            assert_eq!(
                bad.position,
                i64::try_from(at).unwrap() + 1,
                "{}",
                bad.problem
            );
        }
    }
}
