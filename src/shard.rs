//! Sharding (ARCHITECTURE.md "Scale"): `--shard i/n` makes an instance probe only the targets
//! that rendezvous hashing on the target name gives to shard `i` of `n`. Every instance reads
//! the same config; adding or removing a target moves no other target, and going from `n` to
//! `n + 1` shards moves only the targets the new shard wins (about 1/(n+1) of them).
//!
//! The hash is prodprobe's own (FNV-1a, as for first-run offsets, then the SplitMix64
//! finaliser) rather than the standard library's, whose hashers may change between Rust
//! releases: shard membership must not move when prodprobe is rebuilt.

use std::fmt;
use std::str::FromStr;

/// The most shards an instance can be told about.
pub const MAX_SHARDS: u32 = 1024;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// One instance probing every target.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    ///
    /// `count` is 0 or above [`MAX_SHARDS`], or `index` is not below `count`.
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "shard count {count} must be between 1 and {MAX_SHARDS}"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard index {index} must be below the shard count {count} (shards are numbered from 0, like StatefulSet ordinals)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's index.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The number of shards.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the target named `name` belongs to this shard: the shard with the highest
    /// score for the name wins (the lowest index on a tie).
    pub fn owns(self, name: &str) -> bool {
        self.count == 1 || owner(name, self.count) == self.index
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid shard {s:?}: expected INDEX/COUNT, e.g. 0/3"))?;
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("invalid shard {s:?}: {what} {v:?} is not a number"))
        };
        Shard::new(num(i, "index")?, num(n, "count")?)
    }
}

/// The shard (of `count`) that owns `name`.
fn owner(name: &str, count: u32) -> u32 {
    let key = crate::scheduler::fnv1a(&[name.as_bytes()]);
    (0..count)
        .max_by_key(|&i| (mix(key ^ mix(u64::from(i) + 1)), std::cmp::Reverse(i)))
        .unwrap_or(0)
}

/// The SplitMix64 finaliser: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_and_bounds() {
        assert_eq!("2/5".parse::<Shard>(), Shard::new(2, 5));
        assert_eq!(" 0 / 1 ".parse::<Shard>(), Ok(Shard::ALL));
        for bad in ["5/5", "1/0", "x/3", "3", "-1/3", "0/1025"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert!(
            "3/3"
                .parse::<Shard>()
                .unwrap_err()
                .contains("numbered from 0")
        );
    }

    /// Membership is fixed by the names alone: these values may never change, or a rebuilt
    /// prodprobe would move targets between shards.
    #[test]
    fn ownership_is_stable_across_builds() {
        let names = ["shop", "api", "www.example.com", "billing-eu", ""];
        let owners: Vec<u32> = names.iter().map(|n| owner(n, 4)).collect();
        assert_eq!(owners, [2, 1, 0, 1, 0]);
    }

    #[test]
    fn every_target_has_exactly_one_owner_and_the_split_is_even() {
        let names: Vec<String> = (0..4000).map(|i| format!("target-{i}")).collect();
        for count in [1, 2, 3, 7] {
            let mut sizes = vec![0usize; count as usize];
            for n in &names {
                let owners: Vec<u32> = (0..count)
                    .filter(|&i| Shard::new(i, count).unwrap().owns(n))
                    .collect();
                assert_eq!(owners.len(), 1, "{n} of {count}");
                sizes[owners[0] as usize] += 1;
            }
            let even = names.len() / count as usize;
            for s in sizes {
                assert!(s.abs_diff(even) < even / 10 + 1, "{count}: {s} vs {even}");
            }
        }
    }

    /// Rendezvous hashing: adding a shard moves only the targets the new shard wins.
    #[test]
    fn a_new_shard_takes_targets_only_for_itself() {
        for i in 0..2000 {
            let n = format!("t{i}");
            let (before, after) = (owner(&n, 5), owner(&n, 6));
            assert!(after == before || after == 5, "{n}: {before} -> {after}");
        }
    }
}
