//! Where sessions live in Redis, on every deployment (one node, Sentinel, Cluster): key names,
//! hash slots, and the binary layout of a user's sessions that the scripts read (`session.lua`).
//!
//! Every user belongs to one of `BUCKETS` buckets, named by 10 bits of their slot tag (the last
//! 64 bits of their id, which every refresh token of theirs starts with). The bucket is the hash
//! tag of every key a session script touches, so each script touches one hash slot:
//!
//! - `<prefix>{<bucket>}:<tag>` (the tag in base64url, 11 characters): a string holding all of
//!   the user's sessions, one entry each (see `entries`): a binary record of 80 bytes plus the
//!   client's IP and user agent. It expires with the last of them. A string, not a hash: Redis
//!   keeps a hash whose values exceed 64 bytes as a hash table, at about twice the memory.
//! - `<prefix>{<bucket>}:live`: the bucket's live-users histogram (see `live_granule`).
//!
//! No key is written by every request: a request touches its user's key and their bucket's
//! histogram, one bucket in 1024. The 1024 buckets spread over a cluster's slots, so a cluster
//! of up to a few dozen primaries stays balanced within a few per cent.

use std::net::IpAddr;
use std::time::Duration;

use crate::tokens::user_id_of;

/// How many buckets users are spread over (a power of two).
pub const BUCKETS: u16 = 1024;

/// A user's bucket, from their slot tag.
pub fn bucket(tag: [u8; 8]) -> u16 {
    // The tag is a UUIDv7's last 64 bits: its first bytes carry the variant bits and the
    // counter that orders ids made in one millisecond, its last bytes are random.
    u16::from_be_bytes([tag[6], tag[7]]) % BUCKETS
}

/// The key of the sessions of the users whose slot tag is `tag`. The tag is written in
/// base64url: with the default prefix the name fits the allocator's 32-byte class.
pub fn sessions_key(prefix: &str, tag: [u8; 8]) -> String {
    use base64::Engine;
    format!("{prefix}{{{:03x}}}:{}", bucket(tag), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag))
}

/// The entries of a user's sessions as the key holds them: each the session's field (8 bytes),
/// the record's length (2 bytes, big-endian) and the record. A truncated tail is ignored.
pub fn entries(blob: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut rest = blob;
    while rest.len() >= 10 {
        let n = usize::from(u16::from_be_bytes([rest[8], rest[9]]));
        let Some(record) = rest.get(10..10 + n) else { break };
        out.push((&rest[..8], record));
        rest = &rest[10 + n..];
    }
    out
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

/// Common pieces of user agents, each stored as one byte (its index plus one): a browser's user
/// agent shrinks from about 110 characters to about 15. Sanitised user agents hold printable
/// ASCII only (`SessionMeta::new`), so bytes 1 to 31 are free to stand for these, and expanding
/// them gives back exactly the sanitised string. The order is the order of replacement; no
/// piece contains another's byte, so a replacement never spans an earlier one. Append only:
/// stored records refer to these by position.
const USER_AGENT_PIECES: &[&str] = &[
    "Mozilla/5.0 ",
    "AppleWebKit/537.36 (KHTML, like Gecko) ",
    "Chrome/",
    "Safari/537.36",
    "Windows NT 10.0; Win64; x64",
    "Macintosh; Intel Mac OS X ",
    "X11; Linux x86_64",
    "Mobile/15E148 ",
    "(iPhone; CPU iPhone OS ",
    " like Mac OS X) ",
    "Gecko/20100101 Firefox/",
    "Android ",
    "Version/",
    "Edg/",
    ".0.0.0",
    "AppleWebKit/605.1.15 (KHTML, like Gecko) ",
    "Mobile Safari/537.36",
    "rv:",
];

/// A sanitised user agent as a record stores it (see `USER_AGENT_PIECES`).
pub fn compress_user_agent(user_agent: &str) -> Vec<u8> {
    let mut text = user_agent.to_string();
    for (i, piece) in USER_AGENT_PIECES.iter().enumerate() {
        // The pieces number fewer than 32: each index plus one is a control character.
        text = text.replace(piece, &char::from(i as u8 + 1).to_string());
    }
    text.into_bytes()
}

/// The inverse of `compress_user_agent`.
pub fn expand_user_agent(stored: &[u8]) -> String {
    let mut out = String::with_capacity(stored.len() * 4);
    for &b in stored {
        match USER_AGENT_PIECES.get(usize::from(b).wrapping_sub(1)) {
            Some(piece) if b < 0x20 => out.push_str(piece),
            _ => out.push(char::from(b)),
        }
    }
    out
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
    /// Reads a record of the key of the users tagged `tag`; `None` if it is not one.
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
            user_agent: expand_user_agent(&raw[FIXED + 1 + ip_len..]),
        })
    }
}

/// The field of the session `sid` (a family id in hex) if it belongs in the key of the users
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
        assert_eq!(sessions_key("gh:", tag), "gh:{3ff}:AQIDBAUGn_8");
        assert_eq!(live_key("gh:", bucket(tag)), "gh:{3ff}:live");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50_000 {
            seen.insert(bucket(crate::tokens::user_tag(uuid::Uuid::now_v7())));
        }
        assert_eq!(seen.len(), usize::from(BUCKETS), "UUIDv7 ids reach every bucket");
    }

    #[test]
    fn user_agents_shrink_and_expand_to_exactly_what_was_stored() {
        let ua = |s: &str| crate::actors::token_store::SessionMeta::new([127, 0, 0, 1].into(), Some(s)).user_agent;
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert!(compress_user_agent(chrome).len() < 20, "{:?}", compress_user_agent(chrome));
        for sample in [
            chrome,
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "curl/8.5.0",
            "",
            "Chrome/Chrome/ .0.0.0.0.0.0 Mozilla/5.0 Mozilla/5.0",
        ] {
            let sanitised = ua(sample);
            assert_eq!(expand_user_agent(&compress_user_agent(&sanitised)), sanitised);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_sanitised_user_agent_round_trips(s in "[ -~]{0,200}") {
            let sanitised = crate::actors::token_store::SessionMeta::new([127, 0, 0, 1].into(), Some(&s)).user_agent;
            proptest::prop_assert_eq!(expand_user_agent(&compress_user_agent(&sanitised)), sanitised);
        }
    }

    #[test]
    fn entries_are_read_back_and_a_truncated_tail_is_ignored() {
        let blob = [&[1u8; 8][..], &[0, 3], b"abc", &[2u8; 8], &[0, 0], &[3u8; 8], &[0, 9], b"short"].concat();
        assert_eq!(entries(&blob), vec![(&[1u8; 8][..], &b"abc"[..]), (&[2u8; 8][..], &b""[..])]);
        assert!(entries(&[]).is_empty());
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
                &compress_user_agent("Mozilla/5.0"),
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
        assert_eq!(field_of(tag, &crate::tokens::session_id(tag, &[1; 8])), Some(vec![1; 8]));
        assert_eq!(field_of([9; 8], &crate::tokens::session_id(tag, &[1; 8])), None, "another user's session");
        assert_eq!(field_of(tag, "zz"), None);
    }
}
