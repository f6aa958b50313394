//! Interned texts of event properties: a category or brand is stored once, events hold ids.

use crate::hash::{FastMap, fast_map};

/// An interned text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TextId(pub(crate) u32);

/// Every property text held by some stored event, with how many hold it: a text no
/// event holds any more (erased, expired) is dropped, and its id is never reused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TextPool {
    ids: FastMap<Box<str>, TextId>,
    texts: Vec<Box<str>>,
    counts: Vec<u32>,
}

impl Default for TextPool {
    fn default() -> Self {
        TextPool {
            ids: fast_map(),
            texts: Vec::new(),
            counts: Vec::new(),
        }
    }
}

impl TextPool {
    /// The id of `text`, interning it, for one more stored event property.
    pub(crate) fn intern(&mut self, text: &str) -> TextId {
        if let Some(&id) = self.ids.get(text) {
            if let Some(c) = self.counts.get_mut(id.0 as usize) {
                *c = c.saturating_add(1);
            }
            return id;
        }
        let id = TextId(u32::try_from(self.texts.len()).unwrap_or(u32::MAX));
        self.texts.push(text.into());
        self.counts.push(1);
        self.ids.insert(text.into(), id);
        id
    }

    /// Interns `text` held by no property yet (restore adds the holders).
    pub(crate) fn intern_unreferenced(&mut self, text: &str) -> TextId {
        let id = self.intern(text);
        self.release_keeping(id);
        id
    }

    /// One more stored property holds `id`.
    pub(crate) fn intern_again(&mut self, id: TextId) {
        if let Some(c) = self.counts.get_mut(id.0 as usize) {
            *c = c.saturating_add(1);
        }
    }

    fn release_keeping(&mut self, id: TextId) {
        if let Some(c) = self.counts.get_mut(id.0 as usize) {
            *c = c.saturating_sub(1);
        }
    }

    /// One stored property fewer holds `id`; the last one drops the text.
    pub(crate) fn release(&mut self, id: TextId) {
        let i = id.0 as usize;
        let Some(c) = self.counts.get_mut(i) else {
            return;
        };
        *c = c.saturating_sub(1);
        if *c == 0
            && let Some(text) = self.texts.get_mut(i)
        {
            let gone = std::mem::take(text);
            self.ids.remove(&gone);
        }
    }

    /// How many stored properties hold `id`.
    pub(crate) fn count(&self, id: TextId) -> u32 {
        self.counts.get(id.0 as usize).copied().unwrap_or(0)
    }

    /// Number of text ids handed out (dropped ones included).
    pub(crate) fn slots(&self) -> usize {
        self.texts.len()
    }

    /// The texts still held, with their ids.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TextId, &str)> {
        self.texts
            .iter()
            .zip(&self.counts)
            .enumerate()
            .filter(|(_, (_, c))| **c > 0)
            .map(|(i, (t, _))| (TextId(u32::try_from(i).unwrap_or(u32::MAX)), &**t))
    }

    /// The text of `id`.
    pub(crate) fn get(&self, id: TextId) -> &str {
        self.texts.get(id.0 as usize).map_or("", |t| t)
    }

    /// Estimated heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let strings: usize = self.texts.iter().map(|t| t.len()).sum();
        self.texts.capacity() * std::mem::size_of::<Box<str>>()
            + self.counts.capacity() * 4
            + self.ids.capacity() * (std::mem::size_of::<(Box<str>, TextId)>() + 1)
            + 2 * strings
    }
}
