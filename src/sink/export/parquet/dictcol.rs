//! Dictionary-encoded column chunks written from the keys the row builders already have
//! ([`super::cols::Dict`]), through parquet's public page API.
//!
//! arrow-rs's writer takes an Arrow `Dictionary` column and interns every row's value
//! again (hashing its bytes) to build its own dictionary. The low-cardinality columns
//! (`format`, `layer`, `file`, `method`, `protocol`, `status_class`, `kind`, `severity`,
//! `reason`) instead get a [`DictChunk`] per row group: each batch's few dictionary values
//! are mapped to the row group's dictionary once, its keys are copied, and the chunk is
//! written as parquet writes a dictionary column: a PLAIN dictionary page, then a
//! version-1 data page of RLE definition levels (nullable columns) and RLE_DICTIONARY
//! indices (the RLE/bit-packed hybrid), each compressed with zstd, with column-chunk
//! statistics, column index and offset index. The Arrow type comes back from the
//! `ARROW:schema` metadata the Arrow writer stores, so readers get the same
//! `Dictionary(Int32, Utf8)` column.

use std::collections::HashMap;

use arrow_array::types::Int32Type;
use arrow_array::{Array, DictionaryArray, StringArray};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, EncodingMask, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

fn err(s: impl Into<String>) -> ParquetError {
    ParquetError::General(s.into())
}

/// The dictionary column chunk of one row group under construction.
#[derive(Default)]
pub(super) struct DictChunk {
    values: Vec<String>,
    index: HashMap<String, u32>,
    /// Dictionary index of each non-null value.
    keys: Vec<u32>,
    /// Definition level of each row (1 value, 0 null); only for a nullable column.
    defs: Vec<u32>,
    nulls: u64,
    rows: usize,
}

impl DictChunk {
    /// Append the rows of one batch's column.
    pub(super) fn push(
        &mut self,
        a: &DictionaryArray<Int32Type>,
        nullable: bool,
    ) -> Result<(), ParquetError> {
        let vals = a
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| err("dictionary values are not Utf8"))?;
        let mut remap = Vec::with_capacity(vals.len());
        for j in 0..vals.len() {
            let v = if vals.is_null(j) { "" } else { vals.value(j) };
            let id = match self.index.get(v) {
                Some(&id) => id,
                None => {
                    let id = self.values.len() as u32;
                    self.values.push(v.to_string());
                    self.index.insert(v.to_string(), id);
                    id
                }
            };
            remap.push(id);
        }
        let keys = a.keys();
        let n = keys.len();
        let key = |k: i32| -> Result<u32, ParquetError> {
            remap
                .get(k as usize)
                .copied()
                .ok_or_else(|| err("dictionary key out of range"))
        };
        self.keys.reserve(n);
        match keys.nulls().filter(|nb| nb.null_count() > 0) {
            None => {
                for &k in keys.values().iter() {
                    self.keys.push(key(k)?);
                }
                if nullable {
                    self.defs.resize(self.defs.len() + n, 1);
                }
            }
            Some(nb) => {
                if !nullable {
                    return Err(err("null in a non-nullable dictionary column"));
                }
                for (i, &k) in keys.values().iter().enumerate() {
                    if nb.is_valid(i) {
                        self.keys.push(key(k)?);
                        self.defs.push(1);
                    } else {
                        self.defs.push(0);
                        self.nulls += 1;
                    }
                }
            }
        }
        self.rows += n;
        Ok(())
    }

    /// Encode the chunk (and start an empty one): its bytes, starting at offset 0, and
    /// what the row group writer needs to splice them.
    pub(super) fn finish(
        &mut self,
        descr: ColumnDescPtr,
        compression: Compression,
        level: i32,
        stats: bool,
    ) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
        let chunk = std::mem::take(self);
        let nullable = descr.max_def_level() > 0;
        let rows = chunk.rows;
        let mut sink = TrackedWrite::new(Vec::new());
        let (dict_spec, data_spec) = {
            let mut pw = SerializedPageWriter::new(&mut sink);
            // dictionary page: PLAIN byte arrays (little-endian u32 length, bytes)
            let mut plain =
                Vec::with_capacity(chunk.values.iter().map(|v| v.len() + 4).sum::<usize>());
            for v in &chunk.values {
                plain.extend_from_slice(&(v.len() as u32).to_le_bytes());
                plain.extend_from_slice(v.as_bytes());
            }
            let dict_page = Page::DictionaryPage {
                buf: Bytes::from(compress(&plain, level)?),
                num_values: chunk.values.len() as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let dict_spec = pw.write_page(CompressedPage::new(dict_page, plain.len()))?;
            // data page (v1): [u32 length + RLE definition levels], bit width, indices
            let mut body = Vec::with_capacity(chunk.keys.len() / 2 + 64);
            if nullable {
                let mut lv = Vec::new();
                rle_hybrid(&chunk.defs, 1, &mut lv);
                body.extend_from_slice(&(lv.len() as u32).to_le_bytes());
                body.extend_from_slice(&lv);
            }
            let bw = bit_width(chunk.values.len().saturating_sub(1) as u32).max(1);
            body.push(bw as u8);
            rle_hybrid(&chunk.keys, bw, &mut body);
            let data_page = Page::DataPage {
                buf: Bytes::from(compress(&body, level)?),
                num_values: rows as u32,
                encoding: Encoding::RLE_DICTIONARY,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let data_spec = pw.write_page(CompressedPage::new(data_page, body.len()))?;
            pw.close()?;
            (dict_spec, data_spec)
        };
        let buf = sink.into_inner()?;
        let encodings = [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY];
        let mut b = ColumnChunkMetaData::builder(descr)
            .set_compression(compression)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_total_compressed_size(
                (dict_spec.compressed_size + data_spec.compressed_size) as i64,
            )
            .set_total_uncompressed_size(
                (dict_spec.uncompressed_size + data_spec.uncompressed_size) as i64,
            )
            .set_num_values(rows as i64)
            .set_data_page_offset(data_spec.offset as i64)
            .set_dictionary_page_offset(Some(dict_spec.offset as i64));
        let mut column_index = None;
        if stats {
            let min = chunk.values.iter().min();
            let max = chunk.values.iter().max();
            let mut ci = ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY);
            match (min, max) {
                (Some(min), Some(max)) => {
                    ci.append(
                        false,
                        min.as_bytes().to_vec(),
                        max.as_bytes().to_vec(),
                        chunk.nulls as i64,
                        None,
                    );
                    b = b.set_statistics(Statistics::ByteArray(ValueStatistics::new(
                        Some(ByteArray::from(min.as_bytes().to_vec())),
                        Some(ByteArray::from(max.as_bytes().to_vec())),
                        None,
                        Some(chunk.nulls),
                        false,
                    )));
                }
                _ => {
                    ci.append(true, Vec::new(), Vec::new(), chunk.nulls as i64, None);
                    b = b.set_statistics(Statistics::ByteArray(ValueStatistics::new(
                        None,
                        None,
                        None,
                        Some(chunk.nulls),
                        false,
                    )));
                }
            }
            column_index = Some(ci.build()?);
        }
        let mut oi = OffsetIndexBuilder::new();
        oi.append_offset_and_size(data_spec.offset as i64, data_spec.compressed_size as i32);
        oi.append_row_count(rows as i64);
        let close = ColumnCloseResult {
            bytes_written: buf.len() as u64,
            rows_written: rows as u64,
            metadata: b.build()?,
            bloom_filter: None,
            column_index,
            offset_index: Some(oi.build()),
        };
        // the next row group starts with room for as many rows
        self.keys.reserve(chunk.keys.len());
        Ok((Bytes::from(buf), close))
    }
}

fn compress(data: &[u8], level: i32) -> Result<Vec<u8>, ParquetError> {
    zstd::bulk::compress(data, level).map_err(|e| err(format!("zstd: {e}")))
}

/// Bits needed for `max`.
fn bit_width(max: u32) -> u32 {
    32 - max.leading_zeros()
}

/// Append `values` (each below `1 << bw`) in parquet's RLE/bit-packed hybrid encoding:
/// a run of at least [`MIN_RUN`] equal values is one RLE run, the rest is bit-packed in
/// groups of 8 (the last group padded with zeros; readers stop at the value count).
fn rle_hybrid(values: &[u32], bw: u32, out: &mut Vec<u8>) {
    const MIN_RUN: usize = 16;
    let bytes = bw.div_ceil(8) as usize;
    let mut lit_start = 0; // first value not yet written
    let mut i = 0;
    while i < values.len() {
        let v = values[i];
        let mut j = i + 1;
        while j < values.len() && values[j] == v {
            j += 1;
        }
        if j - i >= MIN_RUN {
            // top the literals up to a multiple of 8 from the run's head
            let pad = (8 - (i - lit_start) % 8) % 8;
            let run_start = i + pad;
            if run_start > lit_start {
                bit_packed(&values[lit_start..run_start], bw, out);
            }
            varint(((j - run_start) as u64) << 1, out);
            out.extend_from_slice(&v.to_le_bytes()[..bytes]);
            lit_start = j;
        }
        i = j;
    }
    if lit_start < values.len() {
        bit_packed(&values[lit_start..], bw, out);
    }
}

/// One bit-packed run of `values` (padded with zeros to a multiple of 8).
fn bit_packed(values: &[u32], bw: u32, out: &mut Vec<u8>) {
    let groups = values.len().div_ceil(8);
    varint(((groups as u64) << 1) | 1, out);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for k in 0..groups * 8 {
        let v = values.get(k).copied().unwrap_or(0) as u64;
        acc |= v << bits;
        bits += bw;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    // groups of 8 values of bw bits end on a byte boundary
    debug_assert_eq!(bits, 0);
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode the hybrid encoding (the reader's side, for the test).
    fn decode(mut b: &[u8], bw: u32, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let bytes = bw.div_ceil(8) as usize;
        while out.len() < n {
            let mut h = 0u64;
            let mut s = 0;
            loop {
                let c = b[0];
                b = &b[1..];
                h |= ((c & 0x7f) as u64) << s;
                s += 7;
                if c < 0x80 {
                    break;
                }
            }
            if h & 1 == 0 {
                let mut v = [0u8; 4];
                v[..bytes].copy_from_slice(&b[..bytes]);
                b = &b[bytes..];
                for _ in 0..(h >> 1) {
                    out.push(u32::from_le_bytes(v));
                }
            } else {
                let count = (h >> 1) as usize * 8;
                let mut acc = 0u64;
                let mut bits = 0;
                for _ in 0..count {
                    while bits < bw {
                        acc |= (b[0] as u64) << bits;
                        b = &b[1..];
                        bits += 8;
                    }
                    out.push((acc & ((1u64 << bw) - 1)) as u32);
                    acc >>= bw;
                    bits -= bw;
                }
            }
        }
        assert!(b.is_empty(), "trailing bytes");
        out.truncate(n);
        out
    }

    #[test]
    fn rle_hybrid_round_trips_runs_literals_and_padding() {
        let mut cases: Vec<(Vec<u32>, u32)> = vec![
            (vec![], 1),
            (vec![1], 1),
            (vec![0, 1, 1, 0, 1], 1),
            (vec![1; 100], 1),
            (vec![3; 17], 2),
        ];
        // literals, a long run starting off a group boundary, literals again, a run at the end
        let mut v: Vec<u32> = (0..13).map(|i| i % 5).collect();
        v.extend(std::iter::repeat_n(4, 40));
        v.extend((0..21).map(|i| (i * 7) % 300));
        v.extend(std::iter::repeat_n(299, 16));
        cases.push((v, 9));
        let big: Vec<u32> = (0..5000).map(|i| (i / 37 % 3) * 70000).collect();
        cases.push((big, 18));
        for (vals, bw) in cases {
            let mut out = Vec::new();
            rle_hybrid(&vals, bw, &mut out);
            assert_eq!(decode(&out, bw, vals.len()), vals, "bw {bw}");
        }
        // a run is written as one RLE run: 100 ones in bit width 1 are 2 bytes
        let mut out = Vec::new();
        rle_hybrid(&[1; 100], 1, &mut out);
        assert_eq!(out, [200, 1, 1]);
    }
}
