//! A struct is read from a JSON object only, never from an array (serde accepts both).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};

/// Deserializes `T`, refusing a top-level JSON array where `T` is a struct.
///
/// serde's derived struct visitors also take a sequence (`["text"]` fills the first field),
/// so an API that documents an object would quietly accept an array. Only the top level is
/// checked: nested structs keep serde's behaviour.
pub(crate) struct ObjectsOnly<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectsOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(StructsFromMaps(deserializer)).map(ObjectsOnly)
    }
}

/// Forwards everything to the inner deserializer, wrapping struct visitors in [`MapsOnly`].
struct StructsFromMaps<D>(D);

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StructsFromMaps<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(name, fields, MapsOnly(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A struct visitor that takes a map and refuses a sequence ("invalid type: sequence").
struct MapsOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for MapsOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(formatter)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::invalid_type(Unexpected::Seq, &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Chat {
        prompt: String,
    }

    #[test]
    fn an_array_is_refused_where_a_struct_is_expected() {
        let plain: Chat = serde_json::from_str(r#"["text"]"#).unwrap();
        assert_eq!(plain.prompt, "text", "serde alone accepts the array");
        let error = serde_json::from_str::<ObjectsOnly<Chat>>(r#"["text"]"#)
            .err()
            .unwrap();
        assert!(
            error.to_string().starts_with("invalid type: sequence"),
            "{error}"
        );
    }

    #[test]
    fn objects_and_non_struct_types_are_unchanged() {
        let chat: ObjectsOnly<Chat> = serde_json::from_str(r#"{"prompt":"text"}"#).unwrap();
        assert_eq!(chat.0.prompt, "text");
        let list: ObjectsOnly<Vec<Chat>> = serde_json::from_str(r#"[{"prompt":"a"}]"#).unwrap();
        assert_eq!(list.0.len(), 1);
        let tuple: ObjectsOnly<(u8, u8)> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(tuple.0, (1, 2));
    }
}
