//! AWS Query protocol input: `Action=CreateUser&Version=2010-05-08&UserName=bob`, from a POST
//! form body or a GET query string. Lists arrive as `Name.member.N`, maps of tags as
//! `Tags.member.N.Key` / `Tags.member.N.Value`.

use std::collections::HashMap;

use portcullis_iam::model::Tag;

use crate::error::ApiError;

/// The parameters of one call.
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
}

impl Params {
    /// Parses form-encoded text; a repeated name keeps its first value.
    pub fn parse(text: &[u8]) -> Params {
        let mut values = HashMap::new();
        for (k, v) in form_urlencoded::parse(text) {
            values
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        Params { values }
    }

    /// Adds the parameters of another source (the query string of a POST), keeping existing.
    pub fn merge(&mut self, other: Params) {
        for (k, v) in other.values {
            self.values.entry(k).or_insert(v);
        }
    }

    /// Every parameter, in no particular order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A parameter the operation needs: `ValidationError` when missing, as AWS answers.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    /// `true`/`false`; absent → `None`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::validation(format!(
                "Invalid boolean value '{v}' for {name}."
            ))),
        }
    }

    /// An integer within `min..=max`; absent → `None`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value between {min} and {max}",
                    lower_first(name)
                ))),
            },
        }
    }

    /// `Name.member.1`, `Name.member.2`, ... in order.
    pub fn list(&self, name: &str) -> Vec<String> {
        (1..)
            .map_while(|i| self.get(&format!("{name}.member.{i}")).map(str::to_owned))
            .collect()
    }

    /// `Tags.member.N.Key` / `Tags.member.N.Value`.
    pub fn tags(&self, name: &str) -> Vec<Tag> {
        (1..)
            .map_while(|i| {
                let key = self.get(&format!("{name}.member.{i}.Key"))?;
                let value = self
                    .get(&format!("{name}.member.{i}.Value"))
                    .unwrap_or_default();
                Some(Tag {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
            })
            .collect()
    }
}

pub(crate) fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_tags() {
        let p = Params::parse(
            b"Action=TagUser&UserName=bob&Tags.member.1.Key=team&Tags.member.1.Value=a%20b&Tags.member.2.Key=x&TagKeys.member.1=k1&TagKeys.member.2=k2",
        );
        assert_eq!(p.get("Action"), Some("TagUser"));
        assert_eq!(p.list("TagKeys"), ["k1", "k2"]);
        let tags = p.tags("Tags");
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].value, "a b");
        assert_eq!(tags[1].value, "");
        assert!(p.required("PolicyArn").is_err());
    }
}
