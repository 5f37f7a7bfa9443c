//! The receivers the experiments hold against each other: a stock UDP socket, and udprx
//! sockets under the 7.3 (`modern`) and 3.13 (`classic`) policies.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Stock,
    Modern,
    Classic,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Stock => "stock",
            Side::Modern => "modern",
            Side::Classic => "classic",
        }
    }

    /// The counter group of this side's socket.
    pub fn group(self) -> &'static str {
        if self == Side::Stock {
            "Udp"
        } else {
            "UdpRx"
        }
    }
}
