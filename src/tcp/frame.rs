//! The TCP transport's wire format: length-prefixed frames and the
//! handshake that opens every connection.
//!
//! A frame is a 4-byte little-endian length followed by that many bytes of
//! payload, encoded with `postcard` (the project's compact serde format).
//! A length above the configured maximum is refused before anything is
//! allocated, and a payload is read as it arrives, never into a buffer of
//! the size a peer claims.
//!
//! A connection starts with the dialer's [`Hello`] (magic, protocol
//! version, cluster id, its own id, the id it means to reach, and which
//! lane the connection is) and the listener's [`Answer`]: [`Answer::Welcome`]
//! with its cluster id and id, checked by the dialer in turn, or
//! [`Answer::Refused`] with the reason. Then the dialer sends Raft
//! [`Message`](crate::consensus::Message)s, one a frame, and the listener
//! only reads.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// "CRFT": the first field of every [`Hello`].
pub const MAGIC: u32 = u32::from_le_bytes(*b"CRFT");

/// The protocol version this build speaks.
pub const VERSION: u16 = 1;

/// The largest [`Hello`] or [`Answer`] frame read: a connection that opens
/// with anything longer (a TLS handshake to a listener in the clear, an
/// HTTP request) is refused at once.
pub const MAX_HANDSHAKE: usize = 1024;

/// Which of a peer pair's connections this is: snapshots travel on a
/// connection of their own, so that a large one never holds up heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lane {
    /// Every message but InstallSnapshot.
    Messages,
    /// InstallSnapshot only.
    Snapshots,
}

/// The dialer's first frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`MAGIC`].
    pub magic: u32,
    /// [`VERSION`].
    pub version: u16,
    /// The cluster the dialer belongs to.
    pub cluster_id: u64,
    /// The dialer's id.
    pub from: u64,
    /// The id the dialer means to reach.
    pub to: u64,
    /// What the connection carries.
    pub lane: Lane,
}

/// The listener's answer to a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// Accepted: the listener's cluster id and id, for the dialer to check.
    Welcome {
        /// The listener's cluster.
        cluster_id: u64,
        /// The listener's id.
        node: u64,
    },
    /// Refused, and why; the listener closes the connection.
    Refused(String),
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// A length of zero, or above the maximum: nothing was allocated.
    #[error("a frame of {len} bytes (the limit is {max})")]
    BadLength {
        /// The length the peer claimed.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The payload does not decode as what was expected.
    #[error("a frame that does not decode: {0}")]
    Decode(postcard::Error),
}

/// Encodes `value` as one frame: its length, then its bytes.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, postcard::Error> {
    let body = postcard::to_stdvec(value)?;
    let len = u32::try_from(body.len()).map_err(|_| postcard::Error::SerializeBufferFull)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Writes `value` as one frame.
pub fn write<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let frame = encode(value).map_err(io::Error::other)?;
    out.write_all(&frame)
}

/// Reads one frame of at most `max` bytes and decodes it.
pub fn read<T: DeserializeOwned>(input: &mut impl Read, max: usize) -> Result<T, FrameError> {
    let mut len = [0; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len);
    if len == 0 || len as usize > max {
        return Err(FrameError::BadLength {
            len: u64::from(len),
            max,
        });
    }
    // Read as it arrives: a peer that claims a length and sends less
    // costs what it sent, not what it claimed.
    let mut body = Vec::new();
    input.take(u64::from(len)).read_to_end(&mut body)?;
    if body.len() < len as usize {
        return Err(FrameError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the connection closed {} bytes into a frame of {len}",
                body.len()
            ),
        )));
    }
    postcard::from_bytes(&body).map_err(FrameError::Decode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Message, RequestVote, Term};

    fn vote() -> Message {
        Message::RequestVote(RequestVote {
            term: Term(3),
            last_log_index: crate::consensus::LogIndex(7),
            last_log_term: Term(2),
        })
    }

    #[test]
    fn frames_round_trip_back_to_back() {
        let hello = Hello {
            magic: MAGIC,
            version: VERSION,
            cluster_id: 9,
            from: 1,
            to: 2,
            lane: Lane::Messages,
        };
        let mut bytes = encode(&hello).unwrap();
        bytes.extend(encode(&vote()).unwrap());
        let mut input = bytes.as_slice();
        assert_eq!(read::<Hello>(&mut input, 1 << 20).unwrap(), hello);
        assert_eq!(read::<Message>(&mut input, 1 << 20).unwrap(), vote());
        assert!(matches!(
            read::<Message>(&mut input, 1 << 20),
            Err(FrameError::Io(_))
        ));
    }

    #[test]
    fn a_length_over_the_limit_or_zero_is_refused_before_reading() {
        for len in [u32::MAX, 1 << 21, 0] {
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.extend([0; 16]);
            let error = read::<Message>(&mut bytes.as_slice(), 1 << 20).unwrap_err();
            assert!(
                matches!(error, FrameError::BadLength { len: l, .. } if l == u64::from(len)),
                "{error}"
            );
        }
    }

    #[test]
    fn a_truncated_or_garbled_frame_is_an_error() {
        let frame = encode(&vote()).unwrap();
        let cut = &frame[..frame.len() - 1];
        let error = read::<Message>(&mut &cut[..], 1 << 20).unwrap_err();
        assert!(error.to_string().contains("closed"), "{error}");
        let mut garbled = frame.clone();
        garbled[4] = 0xff;
        assert!(matches!(
            read::<Message>(&mut garbled.as_slice(), 1 << 20),
            Err(FrameError::Decode(_))
        ));
    }
}
