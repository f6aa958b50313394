//! Interned texts of event properties: a category or brand is stored once, events hold ids.

use crate::hash::{FastMap, fast_map};

/// An interned text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TextId(pub(crate) u32);

/// Every property text ever seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TextPool {
    ids: FastMap<Box<str>, TextId>,
    texts: Vec<Box<str>>,
}

impl Default for TextPool {
    fn default() -> Self {
        TextPool {
            ids: fast_map(),
            texts: Vec::new(),
        }
    }
}

impl TextPool {
    /// The id of `text`, interning it.
    pub(crate) fn intern(&mut self, text: &str) -> TextId {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = TextId(u32::try_from(self.texts.len()).unwrap_or(u32::MAX));
        self.texts.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }

    /// The text of `id`.
    pub(crate) fn get(&self, id: TextId) -> &str {
        self.texts.get(id.0 as usize).map_or("", |t| t)
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let strings: usize = self.texts.iter().map(|t| t.len()).sum();
        self.texts.capacity() * std::mem::size_of::<Box<str>>()
            + self.ids.capacity() * (std::mem::size_of::<(Box<str>, TextId)>() + 1)
            + 2 * strings
    }
}
