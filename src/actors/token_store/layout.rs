//! Where sessions live in Redis, on every deployment (one node, Sentinel, Cluster): key names,
//! hash slots, and the binary session record the scripts read (`session.lua`).
//!
//! Every user belongs to one of `BUCKETS` buckets, named by 10 bits of their slot tag (the last
//! 64 bits of their id, which every refresh token of theirs starts with). The bucket is the hash
//! tag of every key a session script touches, so each script touches one hash slot:
//!
//! - `<prefix>{<bucket>}:<tag>`: a hash of the user's sessions, one field per session (the
//!   random half of its family id, 8 bytes), each a binary record of about 80 bytes plus the
//!   client's IP and user agent; it expires with the last of them.
//! - `<prefix>{<bucket>}:live`: the bucket's live-users histogram (see `live_granule`).
//!
//! No key is written by every request: a request touches its user's hash and their bucket's
//! histogram, one bucket in 1024. The 1024 buckets spread over a cluster's slots, so a cluster
//! of up to a few dozen primaries stays balanced within a few per cent.

use std::net::IpAddr;
use std::time::Duration;

use crate::tokens::{session_id, user_id_of};

/// How many buckets users are spread over (a power of two).
pub const BUCKETS: u16 = 1024;

/// A user's bucket, from their slot tag.
pub fn bucket(tag: [u8; 8]) -> u16 {
    // The tag is a UUIDv7's last 64 bits: its first bytes carry the variant bits and the
    // counter that orders ids made in one millisecond, its last bytes are random.
    u16::from_be_bytes([tag[6], tag[7]]) % BUCKETS
}

/// The hash of the sessions of the users whose slot tag is `tag`.
pub fn sessions_key(prefix: &str, tag: [u8; 8]) -> String {
    format!("{prefix}{{{:03x}}}:{}", bucket(tag), hex::encode(tag))
}

/// The live-users histogram of `bucket`.
pub fn live_key(prefix: &str, bucket: u16) -> String {
    format!("{prefix}{{{bucket:03x}}}:live")
}

/// The granule of the live-users histogram, for refresh tokens living `ttl`: 1/288th of it
/// (ten minutes for the default two days), between one second and ten minutes.
///
/// The histogram counts each user in the granule their key expires in, and a granule is dropped
/// once it has ended. So the gauge counts every user with a live session, plus those whose last
/// session expired within the last granule: at most 1/288 (0.35 %) of a day's worth of expiries
/// over, never under. A granule this size keeps the histogram to at most 288 fields per bucket.
pub fn live_granule(ttl: Duration) -> Duration {
    Duration::from_secs((ttl.as_secs() / 288).clamp(1, 600))
}

/// The IP as a record stores it: its length, then its bytes.
pub fn encode_ip(ip: &str) -> Vec<u8> {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => [&[4u8][..], &v4.octets()].concat(),
        Ok(IpAddr::V6(v6)) => [&[16u8][..], &v6.octets()].concat(),
        Err(_) => vec![0],
    }
}

/// The fields of a session record that a listing shows.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub user_id: uuid::Uuid,
    pub created: i64,
    pub seen: i64,
    pub expires: i64,
    pub ip: String,
    pub user_agent: String,
}

const FIXED: usize = 80;

fn u48(bytes: &[u8]) -> i64 {
    bytes.iter().fold(0i64, |n, b| (n << 8) | i64::from(*b))
}

impl Record {
    /// Reads a record of the hash of the users tagged `tag`; `None` if it is not one.
    pub fn decode(tag: [u8; 8], raw: &[u8]) -> Option<Record> {
        if raw.len() <= FIXED {
            return None;
        }
        let ip_len = usize::from(raw[FIXED]);
        let ip_bytes = raw.get(FIXED + 1..FIXED + 1 + ip_len)?;
        let ip = match ip_len {
            4 => IpAddr::from(<[u8; 4]>::try_from(ip_bytes).ok()?).to_string(),
            16 => IpAddr::from(<[u8; 16]>::try_from(ip_bytes).ok()?).to_canonical().to_string(),
            _ => String::new(),
        };
        Some(Record {
            user_id: user_id_of(&raw[..8], tag)?,
            created: u48(&raw[62..68]),
            seen: u48(&raw[68..74]),
            expires: u48(&raw[74..80]),
            ip,
            user_agent: String::from_utf8_lossy(&raw[FIXED + 1 + ip_len..]).into_owned(),
        })
    }
}

/// The session id of the field `field` in the hash of the users tagged `tag`.
pub fn sid(tag: [u8; 8], field: &[u8]) -> String {
    session_id(tag, field)
}

/// The field of the session `sid` (a family id in hex) if it belongs in the hash of the users
/// tagged `tag`; `None` for an id of another user's (or of nobody's) shape.
pub fn field_of(tag: [u8; 8], sid: &str) -> Option<Vec<u8>> {
    let family = hex::decode(sid).ok()?;
    (family.len() == 16 && family[..8] == tag).then(|| family[8..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_user_share_a_hash_tag_and_users_spread_over_every_bucket() {
        let tag = [1, 2, 3, 4, 5, 6, 0x9f, 0xff];
        assert_eq!(sessions_key("gh:", tag), "gh:{3ff}:0102030405069fff");
        assert_eq!(live_key("gh:", bucket(tag)), "gh:{3ff}:live");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50_000 {
            seen.insert(bucket(crate::tokens::user_tag(uuid::Uuid::now_v7())));
        }
        assert_eq!(seen.len(), usize::from(BUCKETS), "UUIDv7 ids reach every bucket");
    }

    #[test]
    fn the_granule_is_a_288th_of_the_ttl_within_bounds() {
        assert_eq!(live_granule(Duration::from_secs(172_800)), Duration::from_secs(600));
        assert_eq!(live_granule(Duration::from_secs(2_592_000)), Duration::from_secs(600));
        assert_eq!(live_granule(Duration::from_secs(2_880)), Duration::from_secs(10));
        assert_eq!(live_granule(Duration::from_secs(3)), Duration::from_secs(1));
    }

    #[test]
    fn a_record_decodes_with_its_ip_and_user_agent() {
        let user = uuid::Uuid::now_v7();
        let tag = crate::tokens::user_tag(user);
        let stamp = |ms: i64| ms.to_be_bytes()[2..].to_vec();
        for ip in ["203.0.113.7", "2001:db8::1"] {
            let raw = [
                &user.as_bytes()[..8],
                &[7; 48][..],
                &stamp(1)[..],
                &stamp(1_700_000_000_000),
                &stamp(1_700_000_000_500),
                &stamp(1_800_000_000_000),
                &encode_ip(ip),
                b"Mozilla/5.0",
            ]
            .concat();
            let record = Record::decode(tag, &raw).unwrap();
            assert_eq!(
                record,
                Record {
                    user_id: user,
                    created: 1_700_000_000_000,
                    seen: 1_700_000_000_500,
                    expires: 1_800_000_000_000,
                    ip: ip.into(),
                    user_agent: "Mozilla/5.0".into()
                }
            );
        }
        assert_eq!(Record::decode(tag, &[0; 40]), None);
        assert_eq!(field_of(tag, &sid(tag, &[1; 8])), Some(vec![1; 8]));
        assert_eq!(field_of([9; 8], &sid(tag, &[1; 8])), None, "another user's session");
        assert_eq!(field_of(tag, "zz"), None);
    }
}
