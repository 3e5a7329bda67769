//! The key of a top-N table ([`crate::agg::acc::TopN`]): up to [`INLINE`] bytes (a client
//! address, most paths) stored inline, longer ones boxed. In an incident every failed request
//! adds its client and path, most of them new (clients over many networks, paths with ids):
//! a boxed key cost a `malloc` on insert and a `free` when pruned, ~25% of the per-error work.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Bytes kept inline.
pub const INLINE: usize = 30;

#[derive(Clone)]
pub enum TopKey {
    Inline(u8, [u8; INLINE]),
    Heap(Box<[u8]>),
}

impl TopKey {
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            TopKey::Inline(n, b) => &b[..*n as usize],
            TopKey::Heap(b) => b,
        }
    }
}

impl From<&[u8]> for TopKey {
    #[inline]
    fn from(k: &[u8]) -> TopKey {
        if k.len() <= INLINE {
            let mut b = [0u8; INLINE];
            b[..k.len()].copy_from_slice(k);
            TopKey::Inline(k.len() as u8, b)
        } else {
            TopKey::Heap(k.into())
        }
    }
}

impl Borrow<[u8]> for TopKey {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::ops::Deref for TopKey {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

// Hash and equality are those of the bytes (as `Borrow` requires), whatever the storage.
impl Hash for TopKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h)
    }
}
impl PartialEq for TopKey {
    #[inline]
    fn eq(&self, o: &TopKey) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}
impl Eq for TopKey {}

impl std::fmt::Debug for TopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_boxed_keys_are_the_same_key() {
        let mut t = crate::agg::acc::TopN::new(10);
        for k in [
            &b""[..],
            b"10.0.0.1",
            &[b'a'; INLINE],
            &[b'a'; INLINE + 1],
            &[b'b'; 600],
        ] {
            t.add(k, 1);
            t.add(k, 1);
            // keys are clipped to MAX_KEY bytes
            let stored = &k[..k.len().min(crate::agg::acc::MAX_KEY)];
            assert_eq!(t.map.get(stored), Some(&2), "{}", k.len());
            let key = TopKey::from(k);
            assert_eq!(&*key, k);
            assert_eq!(matches!(key, TopKey::Inline(..)), k.len() <= INLINE);
        }
        assert_eq!(t.map.len(), 5);
        assert_eq!(t.top(1).first().map(|(_, n)| *n), Some(2));
    }
}
