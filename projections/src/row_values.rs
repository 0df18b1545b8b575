//! Flat row structs (the same `Serialize` rows every write path uses), serialised field by field in
//! column order, straight into what a load sends: PostgreSQL's binary `COPY ... FROM STDIN` format,
//! or the values bound to a SQLite statement.
//!
//! Binary rather than COPY's text format: each field goes as its length and its bytes, where the
//! text format made the server scan every byte for tabs, newlines and backslashes (a third of a
//! rebuild's loading backend's time). Read-model columns are BIGINT, TEXT or BLOB (PostgreSQL's
//! BYTEA), which the binary format writes as eight big-endian bytes, as the text's UTF-8 bytes and
//! as the bytes themselves.
//!
//! Written here rather than taken from a crate: the crates that write COPY's formats from serde
//! are unmaintained. Serialising to `serde_json::Value` first (as the SQLite path once did) spent
//! more time building and taking apart maps than SQLite spent inserting.

use std::fmt::Display;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// A value bound to a SQLite statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Integer(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// Where a row's values go, one column after another.
trait Sink {
    /// Before a row's first column.
    fn start_row(&mut self, _columns: usize) {}
    fn null(&mut self);
    fn integer(&mut self, value: i64);
    fn text(&mut self, value: &str);
    fn bytes(&mut self, value: &[u8]);
}

/// A BLOB column's value: an id's 16 bytes or a hash's 32, less than half their text.
///
/// Rows serialised here take it as bytes; a human-readable serialiser (JSON, which PostgreSQL's
/// `json_populate_recordset` reads rows from) gets BYTEA's text form, `\x` and hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bytes<const N: usize>(pub [u8; N]);

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let mut text = String::with_capacity(2 + 2 * N);
            text.push_str("\\x");
            text.push_str(&hex::encode(self.0));
            serializer.serialize_str(&text)
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

/// PostgreSQL's longest field: a value longer than this cannot be stored, nor its length written.
const LONGEST_FIELD: usize = (1 << 30) - 1;

/// Rows in COPY's binary format: its signature, then each row as a count of its fields followed by
/// each field's length (-1 for NULL) and bytes, then -1 where the next row's count would be.
#[derive(Debug)]
pub(crate) struct CopyBinary(Vec<u8>);

impl CopyBinary {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut data = Vec::with_capacity(capacity);
        data.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        data.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        data.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self(data)
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

impl Sink for CopyBinary {
    fn start_row(&mut self, columns: usize) {
        // Tables have a handful of columns; `Fields` checks the row against them.
        self.0.extend_from_slice(&(columns as i16).to_be_bytes());
    }
    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn integer(&mut self, value: i64) {
        self.0.extend_from_slice(&8i32.to_be_bytes());
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }
    fn bytes(&mut self, bytes: &[u8]) {
        // `serialize_str` and `serialize_bytes` refused anything longer than `LONGEST_FIELD`, so
        // the length fits.
        self.0.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }
}

/// Values to bind.
impl Sink for Vec<Cell> {
    fn null(&mut self) {
        self.push(Cell::Null);
    }
    fn integer(&mut self, value: i64) {
        self.push(Cell::Integer(value));
    }
    fn text(&mut self, value: &str) {
        self.push(Cell::Text(value.to_owned()));
    }
    fn bytes(&mut self, value: &[u8]) {
        self.push(Cell::Bytes(value.to_vec()));
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RowError(String);

impl ser::Error for RowError {
    fn custom<T: Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// Appends `row`, a struct whose fields are exactly `columns` in order (scalars, strings or
/// options of them), as one row of binary COPY to `out`.
pub(crate) fn copy_row<T: Serialize>(out: &mut CopyBinary, columns: &[&str], row: &T) -> Result<(), RowError> {
    row.serialize(RowSerializer { sink: out, columns })
}

/// `row`'s values, as [`copy_row`] takes them, to bind to a statement.
pub(crate) fn cells<T: Serialize>(columns: &[&str], row: &T) -> Result<Vec<Cell>, RowError> {
    let mut cells = Vec::with_capacity(columns.len());
    row.serialize(RowSerializer {
        sink: &mut cells,
        columns,
    })?;
    Ok(cells)
}

struct RowSerializer<'a, S> {
    sink: &'a mut S,
    columns: &'a [&'a str],
}

struct Fields<'a, S> {
    sink: &'a mut S,
    columns: &'a [&'a str],
    next: usize,
}

impl<S: Sink> ser::SerializeStruct for Fields<'_, S> {
    type Ok = ();
    type Error = RowError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), RowError> {
        if self.columns.get(self.next) != Some(&key) {
            return Err(RowError(format!(
                "field `{key}` is not column {} of {:?}",
                self.next + 1,
                self.columns
            )));
        }
        self.next += 1;
        value.serialize(ValueSerializer { sink: &mut *self.sink })
    }

    fn end(self) -> Result<(), RowError> {
        if self.next != self.columns.len() {
            return Err(RowError(format!(
                "a row has {} fields for {} columns",
                self.next,
                self.columns.len()
            )));
        }
        Ok(())
    }
}

fn not_a_row() -> RowError {
    RowError("a row must be a struct of scalar fields".into())
}

fn not_a_scalar() -> RowError {
    RowError("a column takes a number, a string, bytes or nothing".into())
}

/// Only `serialize_struct` makes sense for a row; the rest refuse.
impl<'a, S: Sink> ser::Serializer for RowSerializer<'a, S> {
    type Ok = ();
    type Error = RowError;
    type SerializeSeq = Impossible<(), RowError>;
    type SerializeTuple = Impossible<(), RowError>;
    type SerializeTupleStruct = Impossible<(), RowError>;
    type SerializeTupleVariant = Impossible<(), RowError>;
    type SerializeMap = Impossible<(), RowError>;
    type SerializeStruct = Fields<'a, S>;
    type SerializeStructVariant = Impossible<(), RowError>;

    /// Rows go in binary forms (COPY's, SQLite's bound values): values that have a compact form
    /// for those, like [`Bytes`], take it.
    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a, S>, RowError> {
        self.sink.start_row(self.columns.len());
        Ok(Fields {
            sink: self.sink,
            columns: self.columns,
            next: 0,
        })
    }

    fn serialize_bool(self, _: bool) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_i8(self, _: i8) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_i16(self, _: i16) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_i32(self, _: i32) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_i64(self, _: i64) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_u8(self, _: u8) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_u16(self, _: u16) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_u32(self, _: u32) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_u64(self, _: u64) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_f32(self, _: f32) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_f64(self, _: f64) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_char(self, _: char) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_str(self, _: &str) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_none(self) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_unit(self) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), RowError> {
        Err(not_a_row())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RowError> {
        Err(not_a_row())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RowError> {
        Err(not_a_row())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, RowError> {
        Err(not_a_row())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, RowError> {
        Err(not_a_row())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RowError> {
        Err(not_a_row())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, RowError> {
        Err(not_a_row())
    }
}

/// Whether a value of `len` bytes fits in a column.
fn fits(len: usize) -> Result<(), RowError> {
    if len > LONGEST_FIELD {
        return Err(RowError(format!(
            "a value of {len} bytes is longer than a column holds (1 GiB)"
        )));
    }
    Ok(())
}

/// One column's value.
struct ValueSerializer<'a, S> {
    sink: &'a mut S,
}

impl<S: Sink> ValueSerializer<'_, S> {
    fn number(self, value: impl TryInto<i64> + Display + Copy) -> Result<(), RowError> {
        let n = value
            .try_into()
            .map_err(|_| RowError(format!("{value} is out of a BIGINT column's range")))?;
        self.sink.integer(n);
        Ok(())
    }
}

impl<S: Sink> ser::Serializer for ValueSerializer<'_, S> {
    type Ok = ();
    type Error = RowError;
    type SerializeSeq = Impossible<(), RowError>;
    type SerializeTuple = Impossible<(), RowError>;
    type SerializeTupleStruct = Impossible<(), RowError>;
    type SerializeTupleVariant = Impossible<(), RowError>;
    type SerializeMap = Impossible<(), RowError>;
    type SerializeStruct = Impossible<(), RowError>;
    type SerializeStructVariant = Impossible<(), RowError>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_str(self, text: &str) -> Result<(), RowError> {
        fits(text.len())?;
        self.sink.text(text);
        Ok(())
    }
    fn serialize_bytes(self, bytes: &[u8]) -> Result<(), RowError> {
        fits(bytes.len())?;
        self.sink.bytes(bytes);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), RowError> {
        self.sink.null();
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), RowError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), RowError> {
        self.serialize_none()
    }
    fn serialize_bool(self, value: bool) -> Result<(), RowError> {
        self.sink.integer(i64::from(value));
        Ok(())
    }
    fn serialize_i8(self, value: i8) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_i16(self, value: i16) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_i32(self, value: i32) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_i64(self, value: i64) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_u8(self, value: u8) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_u16(self, value: u16) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_u32(self, value: u32) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_u64(self, value: u64) -> Result<(), RowError> {
        self.number(value)
    }
    fn serialize_char(self, value: char) -> Result<(), RowError> {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), RowError> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), RowError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result<(), RowError> {
        value.serialize(self)
    }
    fn serialize_f32(self, _: f32) -> Result<(), RowError> {
        Err(not_a_scalar())
    }
    fn serialize_f64(self, _: f64) -> Result<(), RowError> {
        Err(not_a_scalar())
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), RowError> {
        Err(not_a_scalar())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RowError> {
        Err(not_a_scalar())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RowError> {
        Err(not_a_scalar())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, RowError> {
        Err(not_a_scalar())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, RowError> {
        Err(not_a_scalar())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RowError> {
        Err(not_a_scalar())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, RowError> {
        Err(not_a_scalar())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, RowError> {
        Err(not_a_scalar())
    }
}

#[cfg(test)]
mod tests {
    use super::{Bytes, Cell, CopyBinary, cells, copy_row};

    #[derive(serde::Serialize)]
    struct Row<'a> {
        id: i64,
        name: &'a str,
        note: Option<&'a str>,
    }

    const COLUMNS: [&str; 3] = ["id", "name", "note"];

    /// The signature and header every binary COPY starts with.
    const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

    fn copy(rows: &[Row]) -> Vec<u8> {
        let mut out = CopyBinary::with_capacity(0);
        for row in rows {
            copy_row(&mut out, &COLUMNS, row).unwrap();
        }
        out.finish()
    }

    /// What the server reads back: each row's fields, None for NULL.
    fn fields(data: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
        assert_eq!(&data[..HEADER.len()], HEADER);
        let mut rest = &data[HEADER.len()..];
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head.to_vec()
        };
        let mut rows = Vec::new();
        loop {
            let count = i16::from_be_bytes(take(2).try_into().unwrap());
            if count == -1 {
                break;
            }
            let row = (0..count)
                .map(|_| {
                    let length = i32::from_be_bytes(take(4).try_into().unwrap());
                    (length >= 0).then(|| take(length as usize))
                })
                .collect();
            rows.push(row);
        }
        assert!(rest.is_empty(), "bytes after the trailer");
        rows
    }

    #[test]
    fn null_and_empty_text_differ() {
        let data = copy(&[
            Row {
                id: 1,
                name: "",
                note: None,
            },
            Row {
                id: -2,
                name: "a",
                note: Some(""),
            },
        ]);
        assert_eq!(
            fields(&data),
            vec![
                vec![Some(1i64.to_be_bytes().to_vec()), Some(vec![]), None],
                vec![Some((-2i64).to_be_bytes().to_vec()), Some(b"a".to_vec()), Some(vec![])],
            ]
        );
    }

    #[test]
    fn text_goes_as_its_bytes_whatever_it_holds() {
        let name = "tab\there\\ and\r\nnew line é \\N";
        let data = copy(&[Row {
            id: 3,
            name,
            note: Some("{\"doc\": \"x\"}"),
        }]);
        let rows = fields(&data);
        assert_eq!(rows[0][1].as_deref(), Some(name.as_bytes()));
        assert_eq!(rows[0][2].as_deref(), Some(&b"{\"doc\": \"x\"}"[..]));
    }

    #[test]
    fn cells_keep_null_numbers_and_text_apart() {
        let row = Row {
            id: 7,
            name: "",
            note: None,
        };
        assert_eq!(
            cells(&COLUMNS, &row).unwrap(),
            vec![Cell::Integer(7), Cell::Text(String::new()), Cell::Null]
        );
        assert!(cells(&["id"], &row).is_err());
    }

    #[test]
    fn fields_must_be_the_columns_in_order() {
        let mut out = CopyBinary::with_capacity(0);
        let row = Row {
            id: 1,
            name: "a",
            note: None,
        };
        let error = copy_row(&mut out, &["id", "note", "name"], &row).unwrap_err();
        assert!(error.to_string().contains("field `name` is not column 2"), "{error}");
        let error = copy_row(&mut out, &["id", "name", "note", "extra"], &row).unwrap_err();
        assert!(error.to_string().contains("3 fields for 4 columns"), "{error}");
        assert!(copy_row(&mut out, &["x"], &42).is_err());
    }

    #[derive(serde::Serialize)]
    struct Hashed {
        id: i64,
        hash: Option<Bytes<2>>,
    }

    #[test]
    fn bytes_go_as_bytes_in_rows_and_as_bytea_text_in_json() {
        let row = Hashed {
            id: 1,
            hash: Some(Bytes([0xab, 0x01])),
        };
        assert_eq!(
            cells(&["id", "hash"], &row).unwrap(),
            vec![Cell::Integer(1), Cell::Bytes(vec![0xab, 0x01])]
        );
        let mut out = CopyBinary::with_capacity(0);
        copy_row(&mut out, &["id", "hash"], &row).unwrap();
        copy_row(&mut out, &["id", "hash"], &Hashed { id: 2, hash: None }).unwrap();
        assert_eq!(
            fields(&out.finish()),
            vec![
                vec![Some(1i64.to_be_bytes().to_vec()), Some(vec![0xab, 0x01])],
                vec![Some(2i64.to_be_bytes().to_vec()), None],
            ]
        );
        // What json_populate_recordset reads into a BYTEA column.
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"id":1,"hash":"\\xab01"}"#);
    }
}
