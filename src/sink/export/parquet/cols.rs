//! Column builders of the row tables, cheaper per row than arrow's generic builders:
//!
//! - [`Text`]: a `Utf8` column whose values are copied into one buffer and checked as UTF-8
//!   once per batch (arrow's own `StringArray::try_new` check: the whole buffer, then every
//!   offset at a character boundary), not once per value; a batch holding an invalid
//!   sequence (rare: log bytes are not always UTF-8) is rebuilt with U+FFFD for each invalid
//!   sequence of a value, as `String::from_utf8_lossy` writes it;
//! - [`Prim`]: a primitive column in a `Vec` (no per-value null bookkeeping until a null);
//! - [`Dict`]: a dictionary-encoded string column keyed without hashing.
//!
//! Each keeps the capacity of its last batch for the next one, so a batch costs no regrowth.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::NullBufferBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{ArrowPrimitiveType, DictionaryArray, Int32Array, PrimitiveArray, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};

/// Log bytes as text: as they are when they are UTF-8, else with U+FFFD for each invalid
/// sequence.
#[inline]
pub(super) fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// The contents of `v`, leaving it empty with as much room (the next batch is alike).
fn take<T>(v: &mut Vec<T>) -> Vec<T> {
    let room = Vec::with_capacity(v.len());
    std::mem::replace(v, room)
}

/// Bytes of text a [`Text`] column holds before its batch is cut short (offsets are `i32`:
/// this keeps them far from overflow, and bounds the memory of a batch of huge values).
pub(super) const TEXT_BATCH_BYTES: usize = 256 << 20;

/// A `Utf8` column under construction (see the module docs).
pub(super) struct Text {
    values: Vec<u8>,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            values: Vec::new(),
            offsets: vec![0],
            nulls: NullBufferBuilder::new(0),
        }
    }
}

impl Text {
    /// Append `b` (checked as UTF-8 at [`Text::finish`]).
    #[inline]
    pub(super) fn append_bytes(&mut self, b: &[u8]) {
        self.values.extend_from_slice(b);
        self.offsets.push(self.values.len() as i32);
        self.nulls.append_non_null();
    }

    #[inline]
    pub(super) fn append_null(&mut self) {
        self.offsets.push(self.values.len() as i32);
        self.nulls.append_null();
    }

    /// Empty → null.
    #[inline]
    pub(super) fn opt(&mut self, b: &[u8]) {
        if b.is_empty() {
            self.append_null();
        } else {
            self.append_bytes(b);
        }
    }

    /// The batch must end before this column's next value (see [`TEXT_BATCH_BYTES`]).
    #[inline]
    pub(super) fn full(&self) -> bool {
        self.values.len() >= TEXT_BATCH_BYTES
    }

    pub(super) fn finish(&mut self) -> StringArray {
        let values = take(&mut self.values);
        let offsets = take(&mut self.offsets);
        self.offsets.push(0);
        let nulls = self.nulls.finish();
        let values = Buffer::from_vec(values);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        match StringArray::try_new(offsets.clone(), values.clone(), nulls.clone()) {
            Ok(a) => a,
            Err(_) => {
                // some value is not UTF-8: rebuild the batch, each value as lossy text
                let mut fixed = Vec::with_capacity(values.len() + 64);
                let mut offs = Vec::with_capacity(offsets.len());
                offs.push(0i32);
                for w in offsets.windows(2) {
                    let v = &values[w[0] as usize..w[1] as usize];
                    fixed.extend_from_slice(lossy(v).as_bytes());
                    offs.push(fixed.len().min(i32::MAX as usize) as i32);
                }
                StringArray::new(
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    Buffer::from_vec(fixed),
                    nulls,
                )
            }
        }
    }
}

/// A primitive column under construction.
pub(super) struct Prim<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    nulls: NullBufferBuilder,
}

impl<T: ArrowPrimitiveType> Default for Prim<T> {
    fn default() -> Self {
        Prim {
            values: Vec::new(),
            nulls: NullBufferBuilder::new(0),
        }
    }
}

impl<T: ArrowPrimitiveType> Prim<T> {
    #[inline]
    pub(super) fn append_value(&mut self, v: T::Native) {
        self.values.push(v);
        self.nulls.append_non_null();
    }

    #[inline]
    pub(super) fn append_null(&mut self) {
        self.values.push(T::Native::default());
        self.nulls.append_null();
    }

    #[inline]
    pub(super) fn append_option(&mut self, v: Option<T::Native>) {
        match v {
            Some(v) => self.append_value(v),
            None => self.append_null(),
        }
    }

    pub(super) fn finish(&mut self) -> PrimitiveArray<T> {
        let values = take(&mut self.values);
        PrimitiveArray::new(ScalarBuffer::from(values), self.nulls.finish())
    }
}

/// A dictionary-encoded string column under construction, for columns of few values
/// (format, layer, file, method, status class...): the value of the last row, else a short
/// linear search, else an index finds the key, so a row costs no hashing of its text.
/// Each batch gets its own dictionary.
#[derive(Default)]
pub(super) struct Dict {
    keys: Vec<i32>,
    nulls: Option<NullBufferBuilder>,
    values: Vec<String>,
    /// Raw bytes → key, once there are more than [`Dict::SCAN`] values.
    index: HashMap<Vec<u8>, i32>,
    /// Raw bytes of each value (the values are their lossy text).
    raw: Vec<Vec<u8>>,
    last: usize,
    /// Address and length of the last value given to [`Dict::append_stable`].
    stable: (usize, usize),
}

impl Dict {
    const SCAN: usize = 16;

    /// Append `v`, whose bytes stay the same at the same address for the life of the
    /// column (a `&'static str`, or the file name of the job): a value given at the same
    /// address as the last one costs no comparison of its bytes.
    #[inline]
    pub(super) fn append_stable(&mut self, v: &str) {
        let at = (v.as_ptr() as usize, v.len());
        if at == self.stable && !self.raw.is_empty() {
            self.push_key(self.last as i32);
            return;
        }
        self.append_bytes(v.as_bytes());
        self.stable = at;
    }

    #[inline]
    pub(super) fn append_value(&mut self, v: &str) {
        self.append_bytes(v.as_bytes());
    }

    /// Empty → null.
    #[inline]
    pub(super) fn opt(&mut self, b: &[u8]) {
        if b.is_empty() {
            self.append_null();
        } else {
            self.append_bytes(b);
        }
    }

    #[inline]
    pub(super) fn append_bytes(&mut self, b: &[u8]) {
        let k = match self.raw.get(self.last) {
            Some(r) if r.as_slice() == b => self.last,
            _ => self.key_of(b),
        };
        self.last = k;
        self.stable = (0, 0);
        self.push_key(k as i32);
    }

    #[inline]
    fn push_key(&mut self, k: i32) {
        self.keys.push(k);
        if let Some(n) = self.nulls.as_mut() {
            n.append_non_null();
        }
    }

    fn key_of(&mut self, b: &[u8]) -> usize {
        let found = if self.raw.len() <= Self::SCAN {
            self.raw.iter().position(|r| r.as_slice() == b)
        } else {
            self.index.get(b).map(|&k| k as usize)
        };
        if let Some(k) = found {
            return k;
        }
        let k = self.raw.len();
        self.raw.push(b.to_vec());
        self.values.push(lossy(b).into_owned());
        if self.raw.len() > Self::SCAN {
            if self.index.is_empty() {
                for (i, r) in self.raw.iter().enumerate() {
                    self.index.insert(r.clone(), i as i32);
                }
            } else {
                self.index.insert(b.to_vec(), k as i32);
            }
        }
        k
    }

    #[inline]
    pub(super) fn append_null(&mut self) {
        let n = self.keys.len();
        self.keys.push(0);
        self.nulls
            .get_or_insert_with(|| {
                let mut b = NullBufferBuilder::new(n + 1);
                b.append_n_non_nulls(n);
                b
            })
            .append_null();
    }

    pub(super) fn finish(&mut self) -> DictionaryArray<Int32Type> {
        let keys = take(&mut self.keys);
        let nulls = self.nulls.take().and_then(|mut n| n.finish());
        let keys = Int32Array::new(ScalarBuffer::from(keys), nulls);
        let values = StringArray::from(std::mem::take(&mut self.values));
        self.raw.clear();
        self.index.clear();
        self.last = 0;
        self.stable = (0, 0);
        DictionaryArray::new(keys, Arc::new(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn text_keeps_values_nulls_and_repairs_invalid_utf8_per_value() {
        let mut t = Text::default();
        for round in 0..2 {
            t.append_bytes(b"GET /a");
            t.opt(b"");
            t.append_bytes("caf\u{e9}".as_bytes());
            if round == 1 {
                // a split sequence: each half invalid alone, valid when concatenated
                t.append_bytes(&[0xC3]);
                t.append_bytes(&[0xA9, b'x']);
            }
            let a = t.finish();
            assert_eq!(a.len(), if round == 0 { 3 } else { 5 });
            assert_eq!(a.value(0), "GET /a");
            assert!(a.is_null(1));
            assert_eq!(a.value(2), "caf\u{e9}");
            if round == 1 {
                assert_eq!(a.value(3), "\u{fffd}");
                assert_eq!(a.value(4), "\u{fffd}x");
            }
        }
    }

    #[test]
    fn prim_and_dict_keep_values_and_nulls_across_batches() {
        let mut p = Prim::<arrow_array::types::UInt64Type>::default();
        let mut d = Dict::default();
        static F: &str = "nginx_combined";
        let file = String::from("/var/log/a.log");
        for _ in 0..2 {
            p.append_value(7);
            p.append_null();
            p.append_option(Some(9));
            d.append_stable(F);
            d.append_null();
            d.append_stable(&file);
            d.append_stable(&file);
            d.opt(b"GET");
            d.append_stable(F);
            let a = p.finish();
            assert_eq!(a.len(), 3);
            assert_eq!((a.value(0), a.is_null(1), a.value(2)), (7, true, 9));
            let k = d.finish();
            let v = k.values().as_any().downcast_ref::<StringArray>().unwrap();
            let got: Vec<Option<&str>> =
                (0..k.len()).map(|i| k.key(i).map(|j| v.value(j))).collect();
            assert_eq!(
                got,
                [
                    Some(F),
                    None,
                    Some("/var/log/a.log"),
                    Some("/var/log/a.log"),
                    Some("GET"),
                    Some(F)
                ]
            );
        }
    }
}
