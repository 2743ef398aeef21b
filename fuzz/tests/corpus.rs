//! The fuzz targets' smoke, on stable and without libFuzzer: each target's body runs over
//! its seeds (`fuzz/seeds/<target>`), every crash input kept as a regression
//! (`fuzz/regressions/<target>`), and a fixed number of mutations of those, drawn from a
//! seeded generator so that a failure repeats.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use lanyard_fuzz::{Body, TARGETS};

/// Mutated inputs per target.
const MUTATIONS: usize = 4000;

#[test]
fn form() {
    smoke("form");
}

#[test]
fn client_metadata() {
    smoke("client_metadata");
}

#[test]
fn jwt() {
    smoke("jwt");
}

#[test]
fn cookies() {
    smoke("cookies");
}

#[test]
fn policy_output() {
    smoke("policy_output");
}

#[test]
fn every_target_has_a_smoke_test() {
    let tested = ["form", "client_metadata", "jwt", "cookies", "policy_output"];
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, tested);
}

fn smoke(name: &str) {
    let Some((_, body)) = TARGETS.iter().find(|(n, _)| *n == name) else {
        panic!("no target {name}");
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = files(&root.join("seeds").join(name));
    assert!(!seeds.is_empty(), "{name} has no seeds");
    let regressions = files(&root.join("regressions").join(name));
    let dict = dictionary(&root.join("dict").join(format!("{name}.dict")));
    for (file, input) in seeds.iter().chain(&regressions) {
        run(name, body, input, file);
    }
    let mut pool: Vec<Vec<u8>> = seeds
        .into_iter()
        .chain(regressions)
        .map(|(_, i)| i)
        .collect();
    let mut rng = Rng::new(name);
    for n in 0..MUTATIONS {
        let input = mutate(&mut rng, &pool, &dict);
        run(name, body, &input, &format!("mutation {n}"));
        // Some mutants breed, so that mutations stack up past one step from a seed.
        if rng.below(4) == 0 && pool.len() < 512 {
            pool.push(input);
        }
    }
}

fn run(name: &str, body: &Body, input: &[u8], origin: &str) {
    if catch_unwind(AssertUnwindSafe(|| body(input))).is_err() {
        panic!(
            "{name}: {origin} fails on {:?}\n(once fixed, keep the input in fuzz/regressions/{name}/)",
            String::from_utf8_lossy(input)
        );
    }
}

/// The files of a directory, by name; none if there is no directory.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), bytes))
        })
        .collect();
    out.sort();
    out
}

/// The tokens of a libFuzzer dictionary (`name="value"` lines, `\\`, `\"` and `\xNN`
/// escapes).
fn dictionary(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let quoted = &l[l.find('"')? + 1..l.rfind('"')?];
            let mut out = Vec::new();
            let mut bytes = quoted.bytes();
            while let Some(b) = bytes.next() {
                if b != b'\\' {
                    out.push(b);
                    continue;
                }
                match bytes.next() {
                    Some(b'x') => {
                        let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                        let hex = std::str::from_utf8(&hex).unwrap_or("3f");
                        out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    }
                    Some(c) => out.push(c),
                    None => {}
                }
            }
            Some(out)
        })
        .collect()
}

/// xorshift64*, seeded by the target's name.
struct Rng(u64);

impl Rng {
    fn new(name: &str) -> Self {
        let seed = name.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Self(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that change how the surfaces split their input.
const INTERESTING: &[u8] = b"\0\t\n\r \"%&'+,./:;=?@[\\]{}~\x7f\x80\xc3\xff";

/// One to four of libFuzzer's kinds of change to an input from the pool.
fn mutate(rng: &mut Rng, pool: &[Vec<u8>], dict: &[Vec<u8>]) -> Vec<u8> {
    let mut input = pool[rng.below(pool.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(8) {
            0 if at < input.len() => input[at] ^= 1 << rng.below(8),
            1 if at < input.len() => input[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 => input.insert(at, rng.next() as u8),
            3 => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(32)).min(input.len());
                let copy = input[at.min(end)..end].to_vec();
                let to = rng.below(input.len() + 1);
                input.splice(to..to, copy);
            }
            5 if !dict.is_empty() => {
                let token = &dict[rng.below(dict.len())];
                input.splice(at..at, token.iter().copied());
            }
            6 if !dict.is_empty() => {
                let token = &dict[rng.below(dict.len())];
                let end = (at + rng.below(8)).min(input.len());
                input.splice(at..end, token.iter().copied());
            }
            _ => {
                let other = &pool[rng.below(pool.len())];
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
        }
    }
    input
}
