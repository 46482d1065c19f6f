//! Wildcard patterns: `*` matches any run of characters (including none), `?` exactly one.
//!
//! Patterns are split into pieces once, when a policy is parsed; matching is a linear scan with
//! one backtrack point (the last `*`), so it never allocates and never goes exponential.

/// One piece of a pattern, borrowing its literal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Text that must appear exactly.
    Lit(&'a str),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// An owned piece, as stored in a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OwnedPiece {
    Lit(Box<str>),
    Star,
    One,
}

impl OwnedPiece {
    pub(crate) fn as_piece(&self) -> Piece<'_> {
        match self {
            OwnedPiece::Lit(s) => Piece::Lit(s),
            OwnedPiece::Star => Piece::Star,
            OwnedPiece::One => Piece::One,
        }
    }
}

/// Splits `text` into pieces, treating `*` and `?` as wildcards.
pub(crate) fn split_wildcards(text: &str, out: &mut Vec<OwnedPiece>) {
    let mut literal_start = 0;
    for (i, c) in text.char_indices() {
        if c == '*' || c == '?' {
            if literal_start < i {
                out.push(OwnedPiece::Lit(text[literal_start..i].into()));
            }
            // Consecutive stars are one star.
            if c == '*' {
                if out.last() != Some(&OwnedPiece::Star) {
                    out.push(OwnedPiece::Star);
                }
            } else {
                out.push(OwnedPiece::One);
            }
            literal_start = i + 1;
        }
    }
    if literal_start < text.len() {
        out.push(OwnedPiece::Lit(text[literal_start..].into()));
    }
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    /// `*` alone: matches everything.
    Any,
    /// No wildcard at all: plain equality.
    Exact(Box<str>),
    /// Text then one trailing `*` (`bucket/*`): a prefix test, the commonest pattern.
    Prefix(Box<str>),
    /// Wildcards somewhere.
    Pieces(Box<[OwnedPiece]>),
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Glob {
        if pattern == "*" {
            return Glob::Any;
        }
        if !pattern.contains(['*', '?']) {
            return Glob::Exact(pattern.into());
        }
        let mut pieces = Vec::new();
        split_wildcards(pattern, &mut pieces);
        match &pieces[..] {
            [OwnedPiece::Star] => return Glob::Any,
            [OwnedPiece::Lit(prefix), OwnedPiece::Star] => return Glob::Prefix(prefix.clone()),
            _ => {}
        }
        Glob::Pieces(pieces.into_boxed_slice())
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => eq_short(s, text),
            Glob::Prefix(p) => starts_with_short(text, p),
            Glob::Pieces(pieces) => match_pieces(pieces, OwnedPiece::as_piece, text),
        }
    }

    /// Whether the pattern has no wildcard.
    pub(crate) fn exact(&self) -> Option<&str> {
        match self {
            Glob::Exact(s) => Some(s),
            _ => None,
        }
    }
}

/// Byte equality without a call to `memcmp`: the strings compared here are short (ARN
/// segments, action names), where the call costs more than the comparison.
#[inline]
pub(crate) fn eq_short(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let mut i = 0;
    while i + 8 <= a.len() {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    a[i..].iter().zip(&b[i..]).all(|(x, y)| x == y)
}

/// `text.starts_with(prefix)` by [`eq_short`].
#[inline]
pub(crate) fn starts_with_short(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && eq_short(&text[..prefix.len()], prefix)
}

/// Length in bytes of the character that starts at byte `i` of `text`.
fn char_len_at(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

/// Matches the whole of `text` against `pieces`.
pub(crate) fn match_pieces<T>(pieces: &[T], piece: impl Fn(&T) -> Piece<'_>, text: &str) -> bool {
    let mut p = 0;
    let mut t = 0;
    // Where to resume after the last `*`: (piece index after it, text position it has reached).
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if p < pieces.len() {
            match piece(&pieces[p]) {
                Piece::Star if p + 1 == pieces.len() => return true,
                Piece::Star => {
                    resume = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Piece::One if t < text.len() => {
                    t += char_len_at(text, t);
                    p += 1;
                    continue;
                }
                Piece::Lit(lit) if starts_with_short(&text[t..], lit) => {
                    t += lit.len();
                    p += 1;
                    continue;
                }
                _ => {}
            }
        } else if t == text.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character, or fail.
        match resume {
            Some((after_star, reached)) if reached < text.len() => {
                let next = reached + char_len_at(text, reached);
                resume = Some((after_star, next));
                p = after_star;
                t = next;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).matches(text)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("a*", "a"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"));
        assert!(m("*test*", "my-test-x"));
        assert!(m("bucket/*/test/*", "bucket/1/2/test/3/o.jpg"));
        assert!(m("bucket/*/test/*", "bucket//test/object.jpg"));
        assert!(!m("bucket/*/test/*", "bucket/test/object.jpg"));
        assert!(m("**a", "xa"));
        assert!(!m("abc", "abcd"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
    }
}
