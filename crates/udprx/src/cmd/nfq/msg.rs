// SPDX-License-Identifier: GPL-2.0

//! The messages of the NFQUEUE protocol (`nfnetlink_queue.h`) that `udprx nfq` sends and
//! reads: bind a queue, set its copy mode, a verdict; a queued packet, an error or
//! acknowledgement.

use anyhow::{bail, Context, Result};

/// `NFNL_SUBSYS_QUEUE`: the high byte of the netlink message type.
const NFNL_SUBSYS_QUEUE: u16 = 3;
/// `enum nfqnl_msg_types`.
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
/// `enum nfqnl_attr_config`.
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
/// `enum nfqnl_msg_config_cmds`.
const NFQNL_CFG_CMD_BIND: u8 = 1;
/// `enum nfqnl_attr_type`.
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_MARK: u16 = 3;
/// `enum nfqnl_config_mode`.
const NFQNL_COPY_META: u8 = 1;
const NFQNL_COPY_PACKET: u8 = 2;
/// `NLMSG_ERROR` (also the acknowledgement, with error 0), `NLMSG_DONE`.
const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Verdict {
    /// NF_ACCEPT: the next hook runs.
    Accept,
    /// NF_STOP: the remaining hooks are skipped, the packet goes on (`okfn`).
    Stop,
    /// NF_REPEAT: the queueing hook runs again (needs --mark and a rule skipping it).
    Repeat,
    /// NF_DROP.
    Drop,
}

impl Verdict {
    /// The `NF_*` value (`include/uapi/linux/netfilter.h`).
    fn value(self) -> u32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Repeat => 4,
            Verdict::Stop => 5,
        }
    }
    pub(super) fn name(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Stop => "stop",
            Verdict::Repeat => "repeat",
            Verdict::Drop => "drop",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CopyMode {
    /// Metadata only (NFQNL_COPY_META).
    Meta,
    /// Metadata and the packet (NFQNL_COPY_PACKET, up to 0xffff bytes).
    Packet,
}

/// Appends one netlink attribute (`struct nlattr`, then the payload padded to 4 bytes).
fn put_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// A message of the queue subsystem: `nlmsghdr`, `nfgenmsg` (family AF_UNSPEC, version
/// NFNETLINK_V0, res_id = the queue number, big-endian), then `attrs`.
fn message(msg: u16, flags: u16, seq: u32, queue: u16, attrs: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + NFGENMSG_LEN + attrs.len();
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&(len as u32).to_ne_bytes());
    b.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | msg).to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: to the kernel
    b.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
    b.extend_from_slice(&queue.to_be_bytes());
    b.extend_from_slice(attrs);
    b
}

/// NFQNL_MSG_CONFIG with NFQA_CFG_CMD `struct nfqnl_msg_config_cmd { u8 command; u8 pad;
/// __be16 pf; }`: BIND queue `queue` for AF_INET. Asks for an acknowledgement.
pub fn bind_message(seq: u32, queue: u16) -> Vec<u8> {
    let mut cmd = vec![NFQNL_CFG_CMD_BIND, 0];
    cmd.extend_from_slice(&(libc::AF_INET as u16).to_be_bytes());
    let mut attrs = Vec::new();
    put_attr(&mut attrs, NFQA_CFG_CMD, &cmd);
    message(NFQNL_MSG_CONFIG, NLM_F_ACK, seq, queue, &attrs)
}

/// NFQNL_MSG_CONFIG with NFQA_CFG_PARAMS `struct nfqnl_msg_config_params { __be32
/// copy_range; u8 copy_mode; } __packed` (5 bytes). Asks for an acknowledgement.
pub fn params_message(seq: u32, queue: u16, mode: CopyMode) -> Vec<u8> {
    let (range, mode) = match mode {
        CopyMode::Meta => (0u32, NFQNL_COPY_META),
        CopyMode::Packet => (0xffff, NFQNL_COPY_PACKET),
    };
    let mut p = range.to_be_bytes().to_vec();
    p.push(mode);
    let mut attrs = Vec::new();
    put_attr(&mut attrs, NFQA_CFG_PARAMS, &p);
    message(NFQNL_MSG_CONFIG, NLM_F_ACK, seq, queue, &attrs)
}

/// NFQNL_MSG_VERDICT: NFQA_VERDICT_HDR `struct nfqnl_msg_verdict_hdr { __be32 verdict;
/// __be32 id; }`, then NFQA_MARK (`__be32`) if `mark` is given. No acknowledgement asked
/// (an error still comes back as NLMSG_ERROR).
pub fn verdict_message(seq: u32, queue: u16, id: u32, v: Verdict, mark: Option<u32>) -> Vec<u8> {
    let mut hdr = v.value().to_be_bytes().to_vec();
    hdr.extend_from_slice(&id.to_be_bytes());
    let mut attrs = Vec::new();
    put_attr(&mut attrs, NFQA_VERDICT_HDR, &hdr);
    if let Some(m) = mark {
        put_attr(&mut attrs, NFQA_MARK, &m.to_be_bytes());
    }
    message(NFQNL_MSG_VERDICT, 0, seq, queue, &attrs)
}

/// One message the kernel sent us.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// NFQNL_MSG_PACKET: a packet queued on `queue`, to be answered by its `id`.
    Packet {
        queue: u16,
        id: u32,
        hook: u8,
        mark: Option<u32>,
    },
    /// NLMSG_ERROR: `error` is 0 for an acknowledgement, else -errno, of request `seq`.
    Error { seq: u32, error: i32 },
    /// Anything else (NLMSG_DONE, other types).
    Other(u16),
}

fn u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u32_be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The messages of one datagram read from the socket.
pub fn parse(mut buf: &[u8]) -> Result<Vec<Incoming>> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32_ne(buf, 0) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            bail!("bad netlink message length {len} (of {} left)", buf.len());
        }
        let ty = u16_ne(buf, 4);
        let seq = u32_ne(buf, 8);
        let body = &buf[NLMSG_HDRLEN..len];
        out.push(match ty {
            NLMSG_ERROR => {
                if body.len() < 4 {
                    bail!("short NLMSG_ERROR");
                }
                Incoming::Error {
                    seq,
                    error: i32::from_ne_bytes([body[0], body[1], body[2], body[3]]),
                }
            }
            t if t == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET => parse_packet(body)?,
            t => Incoming::Other(t),
        });
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    Ok(out)
}

/// The `nfgenmsg` and attributes of NFQNL_MSG_PACKET.
fn parse_packet(body: &[u8]) -> Result<Incoming> {
    if body.len() < NFGENMSG_LEN {
        bail!("short NFQNL_MSG_PACKET");
    }
    let queue = u16::from_be_bytes([body[2], body[3]]);
    let mut attrs = &body[NFGENMSG_LEN..];
    let (mut id, mut hook, mut mark) = (None, 0, None);
    while attrs.len() >= 4 {
        let len = u16_ne(attrs, 0) as usize;
        // The type's top bits are NLA_F_NESTED and NLA_F_NET_BYTEORDER.
        let ty = u16_ne(attrs, 2) & 0x3fff;
        if len < 4 || len > attrs.len() {
            bail!("bad attribute length {len} in NFQNL_MSG_PACKET");
        }
        let p = &attrs[4..len];
        match ty {
            // struct nfqnl_msg_packet_hdr { __be32 packet_id; __be16 hw_protocol; u8 hook; }
            NFQA_PACKET_HDR if p.len() >= 7 => {
                id = Some(u32_be(p, 0));
                hook = p[6];
            }
            NFQA_MARK if p.len() >= 4 => mark = Some(u32_be(p, 0)),
            _ => {}
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    let id = id.context("NFQNL_MSG_PACKET without NFQA_PACKET_HDR")?;
    Ok(Incoming::Packet {
        queue,
        id,
        hook,
        mark,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a u32 as the host writes netlink headers (native endianness).
    fn ne32(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }
    fn ne16(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }

    #[test]
    fn bind_bytes() {
        let mut want = Vec::new();
        want.extend(ne32(28)); // nlmsg_len: 16 + 4 + 8
        want.extend(ne16(0x0302)); // NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_CONFIG
        want.extend(ne16(0x0005)); // NLM_F_REQUEST | NLM_F_ACK
        want.extend(ne32(1)); // seq
        want.extend(ne32(0)); // pid
        want.extend([0, 0, 0x00, 0x07]); // AF_UNSPEC, V0, queue 7 (be16)
        want.extend(ne16(8)); // nla_len
        want.extend(ne16(1)); // NFQA_CFG_CMD
        want.extend([1, 0, 0x00, 0x02]); // BIND, pad, AF_INET (be16)
        assert_eq!(bind_message(1, 7), want);
    }

    #[test]
    fn params_bytes() {
        let mut want = Vec::new();
        want.extend(ne32(32)); // 16 + 4 + 12 (9 padded to 12)
        want.extend(ne16(0x0302));
        want.extend(ne16(0x0005));
        want.extend(ne32(2));
        want.extend(ne32(0));
        want.extend([0, 0, 0, 0]);
        want.extend(ne16(9)); // nla_len: 4 + 5, unpadded
        want.extend(ne16(2)); // NFQA_CFG_PARAMS
        want.extend([0, 0, 0xff, 0xff, 2, 0, 0, 0]); // range 0xffff (be32), PACKET, pad
        assert_eq!(params_message(2, 0, CopyMode::Packet), want);
        let meta = params_message(2, 0, CopyMode::Meta);
        assert_eq!(&meta[24..29], &[0, 0, 0, 0, 1]);
    }

    #[test]
    fn verdict_bytes() {
        let mut want = Vec::new();
        want.extend(ne32(32)); // 16 + 4 + 12
        want.extend(ne16(0x0301)); // NFQNL_MSG_VERDICT
        want.extend(ne16(0x0001)); // NLM_F_REQUEST
        want.extend(ne32(9));
        want.extend(ne32(0));
        want.extend([0, 0, 0x01, 0x02]); // queue 258
        want.extend(ne16(12));
        want.extend(ne16(2)); // NFQA_VERDICT_HDR
        want.extend([0, 0, 0, 5]); // NF_STOP (be32)
        want.extend([0x12, 0x34, 0x56, 0x78]); // id (be32)
        assert_eq!(
            verdict_message(9, 258, 0x12345678, Verdict::Stop, None),
            want
        );

        let m = verdict_message(9, 0, 1, Verdict::Repeat, Some(0xabcd));
        assert_eq!(m.len(), 40);
        assert_eq!(&m[0..4], &ne32(40));
        assert_eq!(&m[24..28], &[0, 0, 0, 4]); // NF_REPEAT
        assert_eq!(&m[32..34], &ne16(8));
        assert_eq!(&m[34..36], &ne16(3)); // NFQA_MARK
        assert_eq!(&m[36..40], &[0, 0, 0xab, 0xcd]);
        assert_eq!(Verdict::Accept.value(), 1);
        assert_eq!(Verdict::Drop.value(), 0);
    }

    #[test]
    fn parse_packet_and_ack() {
        let mut b = Vec::new();
        // NFQNL_MSG_PACKET, queue 3: NFQA_PACKET_HDR (id 0x01020304, ETH_P_IP, hook 1),
        // NFQA_MARK 0x2a, an unknown attribute.
        b.extend(ne32(16 + 4 + 12 + 8 + 8));
        b.extend(ne16(0x0300));
        b.extend(ne16(0));
        b.extend(ne32(0));
        b.extend(ne32(0));
        b.extend([2, 0, 0, 3]);
        b.extend(ne16(11));
        b.extend(ne16(1));
        b.extend([1, 2, 3, 4, 0x08, 0x00, 1, 0]);
        b.extend(ne16(8));
        b.extend(ne16(3));
        b.extend([0, 0, 0, 0x2a]);
        b.extend(ne16(8));
        b.extend(ne16(0x8000 | 20));
        b.extend([9, 9, 9, 9]);
        // NLMSG_ERROR for seq 5: -EPERM, then the original header (16 bytes).
        b.extend(ne32(16 + 4 + 16));
        b.extend(ne16(2));
        b.extend(ne16(0));
        b.extend(ne32(5));
        b.extend(ne32(0));
        b.extend((-1i32).to_ne_bytes());
        b.extend([0; 16]);
        assert_eq!(
            parse(&b).unwrap(),
            vec![
                Incoming::Packet {
                    queue: 3,
                    id: 0x01020304,
                    hook: 1,
                    mark: Some(0x2a)
                },
                Incoming::Error { seq: 5, error: -1 },
            ]
        );
        assert!(parse(&b[..20]).is_err());
    }
}
