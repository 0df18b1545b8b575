//! Flat row structs (the same `Serialize` rows every write path uses), serialised field by field in
//! column order, straight into what a load sends: PostgreSQL's `COPY ... FROM STDIN` text format (a
//! tab between columns, a newline after each row, `\N` for NULL, backslash escapes for backslash,
//! tab, newline and carriage return), or the values bound to a SQLite statement.
//!
//! Written here rather than taken from a crate: `csv` cannot tell NULL from an empty string (both
//! are an empty field), and the crates that write COPY's formats from serde are unmaintained.
//! Serialising to `serde_json::Value` first (as the SQLite path once did) spent more time building
//! and taking apart maps than SQLite spent inserting.

use std::fmt::Display;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// A value bound to a SQLite statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Integer(i64),
    Text(String),
}

/// Where a row's values go, one column after another.
trait Sink {
    fn null(&mut self);
    fn integer(&mut self, value: i64);
    fn text(&mut self, value: &str);
    /// Before every column but the first.
    fn next_column(&mut self) {}
    fn end_row(&mut self) {}
}

/// COPY text.
impl Sink for Vec<u8> {
    fn null(&mut self) {
        self.extend_from_slice(b"\\N");
    }
    fn integer(&mut self, value: i64) {
        self.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }
    fn text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        // Most text holds nothing to escape: memchr finds that out a vector at a time, and it is
        // copied whole. Scanning byte by byte took a tenth of a rebuild's client time.
        if memchr::memchr3(b'\\', b'\n', b'\r', bytes).is_none() && memchr::memchr(b'\t', bytes).is_none() {
            self.extend_from_slice(bytes);
            return;
        }
        self.reserve(bytes.len() + 16);
        for &byte in bytes {
            match byte {
                b'\\' => self.extend_from_slice(b"\\\\"),
                b'\t' => self.extend_from_slice(b"\\t"),
                b'\n' => self.extend_from_slice(b"\\n"),
                b'\r' => self.extend_from_slice(b"\\r"),
                _ => self.push(byte),
            }
        }
    }
    fn next_column(&mut self) {
        self.push(b'\t');
    }
    fn end_row(&mut self) {
        self.push(b'\n');
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
/// options of them), as one line of COPY text to `out`.
pub(crate) fn copy_line<T: Serialize>(out: &mut Vec<u8>, columns: &[&str], row: &T) -> Result<(), RowError> {
    row.serialize(RowSerializer { sink: out, columns })
}

/// `row`'s values, as [`copy_line`] takes them, to bind to a statement.
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
        if self.next > 0 {
            self.sink.next_column();
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
        self.sink.end_row();
        Ok(())
    }
}

fn not_a_row() -> RowError {
    RowError("a row must be a struct of scalar fields".into())
}

fn not_a_scalar() -> RowError {
    RowError("a column takes a number, a string or nothing".into())
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

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a, S>, RowError> {
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

    fn serialize_str(self, text: &str) -> Result<(), RowError> {
        self.sink.text(text);
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
    fn serialize_bytes(self, _: &[u8]) -> Result<(), RowError> {
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
    use super::{Cell, cells, copy_line};

    #[derive(serde::Serialize)]
    struct Row<'a> {
        id: i64,
        name: &'a str,
        note: Option<&'a str>,
    }

    fn line(row: &Row) -> String {
        let mut out = Vec::new();
        copy_line(&mut out, &["id", "name", "note"], row).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn null_and_empty_text_differ() {
        assert_eq!(
            line(&Row {
                id: 1,
                name: "",
                note: None
            }),
            "1\t\t\\N\n"
        );
        assert_eq!(
            line(&Row {
                id: -2,
                name: "a",
                note: Some("")
            }),
            "-2\ta\t\n"
        );
    }

    #[test]
    fn special_bytes_are_escaped() {
        let row = Row {
            id: 3,
            name: "tab\there\\ and\r\nnew line é \\N",
            note: Some("{\"doc\": \"x\"}"),
        };
        assert_eq!(
            line(&row),
            "3\ttab\\there\\\\ and\\r\\nnew line é \\\\N\t{\"doc\": \"x\"}\n"
        );
    }

    #[test]
    fn cells_keep_null_numbers_and_text_apart() {
        let row = Row {
            id: 7,
            name: "",
            note: None,
        };
        assert_eq!(
            cells(&["id", "name", "note"], &row).unwrap(),
            vec![Cell::Integer(7), Cell::Text(String::new()), Cell::Null]
        );
        assert!(cells(&["id"], &row).is_err());
    }

    #[test]
    fn fields_must_be_the_columns_in_order() {
        let mut out = Vec::new();
        let row = Row {
            id: 1,
            name: "a",
            note: None,
        };
        let error = copy_line(&mut out, &["id", "note", "name"], &row).unwrap_err();
        assert!(error.to_string().contains("field `name` is not column 2"), "{error}");
        let error = copy_line(&mut out, &["id", "name", "note", "extra"], &row).unwrap_err();
        assert!(error.to_string().contains("3 fields for 4 columns"), "{error}");
        assert!(copy_line(&mut out, &["x"], &42).is_err());
    }
}
