//! The line format of the targets whose input has several parts: each line is a keyword,
//! a space and the rest. Byte mutations mostly keep lines whole, so the fuzzer explores the
//! values rather than breaking a binary layout; unknown lines are ignored.

/// `(keyword, rest)` for each line of `data` that is UTF-8.
pub fn parse(data: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    data.split(|b| *b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok())
        .map(|line| line.split_once(' ').unwrap_or((line, "")))
}
