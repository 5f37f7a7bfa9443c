// SPDX-License-Identifier: GPL-2.0

//! Each cited kernel condition, pinned at its boundary: equal, one below, one above.

mod both;
mod classic;
mod common;
mod modern;
