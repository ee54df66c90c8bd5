//! The on-disk format of [`crate::storage::DiskStorage`]: segment headers,
//! record frames, the records themselves and snapshot files. Hand-written
//! by design (the format is small and the project's to verify); every
//! integer is little-endian, every frame 8-byte aligned, every checksum
//! CRC-32C (Castagnoli, hardware-accelerated by the `crc32c` crate).
//!
//! ```text
//! segment  = header frame*
//! header   = magic "ckraftwl" | version u32 | reserved u32 | seq u64 | crc u32 | zero u32   (32 bytes)
//! frame    = len u32 | crc u32 | body (len bytes) | zero padding to a multiple of 8
//!            len > 0; crc = CRC-32C(len as 4 bytes ++ body)
//! body     = kind u8 | payload
//! ```
//!
//! A frame's length and checksum share its first 8 bytes, which a sector
//! write never tears apart; the checksum covers the length, so a flipped
//! length is caught like a flipped payload byte. A zero length marks the
//! end of what was written (a zero-filled tail).
//!
//! Records (the payload after the kind byte):
//!
//! | kind | record | payload |
//! | --- | --- | --- |
//! | 1 | checkpoint | term u64, vote flag u8, vote u64, snapshot flag u8, snapshot index u64, snapshot term u64, snapshot length u64, snapshot crc u32, last index u64 |
//! | 2 | hard state | term u64, vote flag u8, vote u64 |
//! | 3 | entries | count u32, then per entry: index u64, term u64, len u32, command |
//! | 4 | truncate | after u64 |
//! | 5 | snapshot marker | index u64, term u64, data length u64, data crc u32 |
//! | 6 | commit | (empty) |
//!
//! Snapshot files (`snap-<index>-<term>-<data crc>.snap`): magic "ckraftsn" | version
//! u32 | reserved u32 | index u64 | term u64 | length u64 | data crc u32 |
//! header crc u32 (48 bytes), then the data.

use crate::consensus::{Entry, HardState, LogIndex, NodeId, SnapshotMeta, Term};
use bytes::Bytes;

/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// A segment's first 8 bytes.
pub const SEGMENT_MAGIC: [u8; 8] = *b"ckraftwl";
/// A snapshot file's first 8 bytes.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"ckraftsn";
/// Bytes of a segment header.
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Bytes of a snapshot file's header.
pub const SNAPSHOT_HEADER_LEN: usize = 48;
/// Bytes of a frame's header (length and checksum).
pub const FRAME_HEADER_LEN: usize = 8;
/// The largest frame body accepted (a bigger length is corruption, and is
/// never allocated).
pub const MAX_BODY_LEN: usize = 1 << 30;

/// CRC-32C of `bytes`.
pub fn crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// A snapshot as the log refers to it (its data is in its own file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotRef {
    /// Where it ends.
    pub meta: SnapshotMeta,
    /// Its data's length.
    pub len: u64,
    /// Its data's checksum.
    pub data_crc: u32,
}

/// One record of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// The state when a segment was started, its first record: the hard
    /// state, the snapshot in effect, and the last log index (entries
    /// after the snapshot through it were written in earlier segments).
    Checkpoint {
        /// The hard state.
        hard_state: HardState,
        /// The snapshot in effect, if any.
        snapshot: Option<SnapshotRef>,
        /// The last index of the log.
        last_index: LogIndex,
    },
    /// `current_term` and `voted_for`.
    HardState(HardState),
    /// Entries appended.
    Entries(Vec<Entry>),
    /// Entries after `after` deleted.
    Truncate {
        /// The last index kept.
        after: LogIndex,
    },
    /// The snapshot in effect from here on.
    Snapshot(SnapshotRef),
    /// The end of one durable batch: records after the last commit were
    /// never acknowledged.
    Commit,
}

impl Record {
    /// The record's name, for messages and the dump tool.
    pub fn name(&self) -> &'static str {
        match self {
            Record::Checkpoint { .. } => "checkpoint",
            Record::HardState(_) => "hard state",
            Record::Entries(_) => "entries",
            Record::Truncate { .. } => "truncate",
            Record::Snapshot(_) => "snapshot marker",
            Record::Commit => "commit",
        }
    }

    /// Appends this record's frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        match self {
            Record::Checkpoint {
                hard_state,
                snapshot,
                last_index,
            } => {
                out.push(1);
                put_hard_state(out, hard_state);
                out.push(u8::from(snapshot.is_some()));
                put_snapshot(out, &snapshot.unwrap_or_default());
                put_u64(out, last_index.0);
            }
            Record::HardState(hard_state) => {
                out.push(2);
                put_hard_state(out, hard_state);
            }
            Record::Entries(entries) => {
                out.push(3);
                put_u32(out, entries.len() as u32);
                for entry in entries {
                    put_u64(out, entry.index.0);
                    put_u64(out, entry.term.0);
                    put_u32(out, entry.command.len() as u32);
                    out.extend_from_slice(&entry.command);
                }
            }
            Record::Truncate { after } => {
                out.push(4);
                put_u64(out, after.0);
            }
            Record::Snapshot(snapshot) => {
                out.push(5);
                put_snapshot(out, snapshot);
            }
            Record::Commit => out.push(6),
        }
        let body_len = out.len() - start - FRAME_HEADER_LEN;
        let len = (body_len as u32).to_le_bytes();
        let mut hasher = crc32c::crc32c(&len);
        hasher = crc32c::crc32c_append(hasher, &out[start + FRAME_HEADER_LEN..]);
        out[start..start + 4].copy_from_slice(&len);
        out[start + 4..start + 8].copy_from_slice(&hasher.to_le_bytes());
        out.resize(start + padded(FRAME_HEADER_LEN + body_len), 0);
    }

    /// Decodes a frame's body (checksum already verified); `None` if it is
    /// not a well-formed record. Commands are copied out of `body`.
    pub fn decode(body: &[u8]) -> Option<Record> {
        Record::decode_with(body, &Bytes::copy_from_slice)
    }

    /// As [`Record::decode`], taking each command through `command` (a
    /// recovery that holds the segment as [`Bytes`] slices it: no copy).
    pub fn decode_with(body: &[u8], command: &dyn Fn(&[u8]) -> Bytes) -> Option<Record> {
        let (&kind, payload) = body.split_first()?;
        let mut r = Reader(payload);
        let record = match kind {
            1 => Record::Checkpoint {
                hard_state: r.hard_state()?,
                snapshot: match (r.u8()?, r.snapshot()?) {
                    (0, snapshot) if snapshot == SnapshotRef::default() => None,
                    (1, snapshot) => Some(snapshot),
                    _ => return None,
                },
                last_index: LogIndex(r.u64()?),
            },
            2 => Record::HardState(r.hard_state()?),
            3 => {
                let count = r.u32()? as usize;
                // Each entry takes at least 20 bytes: a count the payload
                // cannot hold is refused before anything is allocated.
                if count > r.0.len() / 20 {
                    return None;
                }
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    let index = LogIndex(r.u64()?);
                    let term = Term(r.u64()?);
                    let len = r.u32()? as usize;
                    let command = command(r.take(len)?);
                    entries.push(Entry {
                        index,
                        term,
                        command,
                    });
                }
                Record::Entries(entries)
            }
            4 => Record::Truncate {
                after: LogIndex(r.u64()?),
            },
            5 => Record::Snapshot(r.snapshot()?),
            6 => Record::Commit,
            _ => return None,
        };
        r.0.is_empty().then_some(record)
    }
}

/// What [`read_frame`] found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A whole frame whose checksum matches: its body, and the offset of
    /// the next frame.
    Valid {
        /// The body (kind and payload).
        body: &'a [u8],
        /// Where the next frame starts.
        next: usize,
    },
    /// A zero length: nothing was written from here on (or a zero-filled
    /// tail).
    End,
    /// Not a valid frame: a length past the end or beyond the limit, or a
    /// checksum that does not match.
    Invalid(&'static str),
}

/// Reads the frame at `offset` of `data` (8-aligned).
pub fn read_frame(data: &[u8], offset: usize) -> Frame<'_> {
    let Some(header) = data.get(offset..offset + FRAME_HEADER_LEN) else {
        return match data.len() == offset {
            true => Frame::End,
            false => Frame::Invalid("a frame header cut short"),
        };
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 {
        return Frame::End;
    }
    if len > MAX_BODY_LEN {
        return Frame::Invalid("a frame length beyond the limit");
    }
    let start = offset + FRAME_HEADER_LEN;
    let Some(body) = data.get(start..start + len) else {
        return Frame::Invalid("a frame cut short");
    };
    let expected = crc32c::crc32c_append(crc32c::crc32c(&header[..4]), body);
    if expected != sum {
        return Frame::Invalid("a frame checksum mismatch");
    }
    Frame::Valid {
        body,
        next: offset + padded(FRAME_HEADER_LEN + len),
    }
}

/// Whether any valid frame starts at an 8-aligned offset in `data` after
/// `offset`: tells a torn tail (nothing valid after the damage) from
/// corruption in the middle of the log.
pub fn valid_frame_after(data: &[u8], offset: usize) -> Option<usize> {
    (offset + 8..data.len())
        .step_by(8)
        .find(|&at| matches!(read_frame(data, at), Frame::Valid { .. }))
}

/// A segment header for segment `seq`.
pub fn segment_header(seq: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEGMENT_HEADER_LEN);
    out.extend_from_slice(&SEGMENT_MAGIC);
    put_u32(&mut out, VERSION);
    put_u32(&mut out, 0);
    put_u64(&mut out, seq);
    let sum = crc(&out);
    put_u32(&mut out, sum);
    put_u32(&mut out, 0);
    out
}

/// Checks a segment's header: `Ok(())` if it names segment `seq` in this
/// version, else why not.
pub fn check_segment_header(data: &[u8], seq: u64) -> Result<(), String> {
    let Some(header) = data.get(..SEGMENT_HEADER_LEN) else {
        return Err(format!(
            "the header is cut short ({} of {SEGMENT_HEADER_LEN} bytes)",
            data.len()
        ));
    };
    if header[..8] != SEGMENT_MAGIC {
        return Err("not a segment (bad magic number)".into());
    }
    let mut r = Reader(&header[8..]);
    let (version, _, found_seq) = (r.u32(), r.u32(), r.u64());
    let sum = r.u32();
    if sum != Some(crc(&header[..24])) {
        return Err("the header's checksum does not match".into());
    }
    if version != Some(VERSION) {
        return Err(format!(
            "format version {} (this build reads {VERSION})",
            version.unwrap_or(0)
        ));
    }
    if found_seq != Some(seq) {
        return Err(format!(
            "the header says segment {}, the name {seq}",
            found_seq.unwrap_or(0)
        ));
    }
    Ok(())
}

/// A snapshot file: header and data.
pub fn snapshot_file(meta: SnapshotMeta, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN + data.len());
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    put_u32(&mut out, VERSION);
    put_u32(&mut out, 0);
    put_u64(&mut out, meta.last_included_index.0);
    put_u64(&mut out, meta.last_included_term.0);
    put_u64(&mut out, data.len() as u64);
    put_u32(&mut out, crc(data));
    let sum = crc(&out);
    put_u32(&mut out, sum);
    out.extend_from_slice(data);
    out
}

/// Reads a snapshot file: where it ends and its data, or why it is not
/// a valid one.
pub fn read_snapshot_file(file: &[u8]) -> Result<(SnapshotMeta, Bytes), String> {
    let Some(header) = file.get(..SNAPSHOT_HEADER_LEN) else {
        return Err("the header is cut short".into());
    };
    if header[..8] != SNAPSHOT_MAGIC {
        return Err("not a snapshot (bad magic number)".into());
    }
    let mut r = Reader(&header[8..]);
    let version = r.u32().unwrap_or(0);
    let _ = r.u32();
    let meta = SnapshotMeta {
        last_included_index: LogIndex(r.u64().unwrap_or(0)),
        last_included_term: Term(r.u64().unwrap_or(0)),
    };
    let len = r.u64().unwrap_or(0);
    let data_crc = r.u32().unwrap_or(0);
    if r.u32() != Some(crc(&header[..44])) {
        return Err("the header's checksum does not match".into());
    }
    if version != VERSION {
        return Err(format!(
            "format version {version} (this build reads {VERSION})"
        ));
    }
    let data = &file[SNAPSHOT_HEADER_LEN..];
    if data.len() as u64 != len {
        return Err(format!(
            "{} bytes of data, the header says {len}",
            data.len()
        ));
    }
    if crc(data) != data_crc {
        return Err("the data's checksum does not match".into());
    }
    Ok((meta, Bytes::copy_from_slice(data)))
}

/// `len` rounded up to a multiple of 8.
pub fn padded(len: usize) -> usize {
    len.div_ceil(8) * 8
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_hard_state(out: &mut Vec<u8>, hard_state: &HardState) {
    put_u64(out, hard_state.current_term.0);
    out.push(u8::from(hard_state.voted_for.is_some()));
    put_u64(out, hard_state.voted_for.map_or(0, |id| id.0));
}

fn put_snapshot(out: &mut Vec<u8>, snapshot: &SnapshotRef) {
    put_u64(out, snapshot.meta.last_included_index.0);
    put_u64(out, snapshot.meta.last_included_term.0);
    put_u64(out, snapshot.len);
    put_u32(out, snapshot.data_crc);
}

/// Checked little-endian reads: `None` past the end, never a panic.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut bytes = [0; 8];
        bytes.copy_from_slice(b);
        Some(u64::from_le_bytes(bytes))
    }

    fn snapshot(&mut self) -> Option<SnapshotRef> {
        Some(SnapshotRef {
            meta: SnapshotMeta {
                last_included_index: LogIndex(self.u64()?),
                last_included_term: Term(self.u64()?),
            },
            len: self.u64()?,
            data_crc: self.u32()?,
        })
    }

    fn hard_state(&mut self) -> Option<HardState> {
        let current_term = Term(self.u64()?);
        let voted = self.u8()?;
        let vote = NodeId(self.u64()?);
        let voted_for = match voted {
            0 if vote.0 == 0 => None,
            1 => Some(vote),
            _ => return None,
        };
        Some(HardState {
            current_term,
            voted_for,
        })
    }
}
