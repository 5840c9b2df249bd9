//! A key's window state as snapshots hold it: its clock, its open windows and their
//! accumulators.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::clock::KeyClock;
use super::windower::WindowId;
use super::Millis;

/// One open window of a key. It closes once the key's watermark is past `close`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window<A> {
    /// Its id: the grid index, or a per-key session number.
    pub id: WindowId,
    /// Its first instant (a session: its earliest item).
    pub start: Millis,
    /// Its last instant (a session: its latest item).
    pub last: Millis,
    /// It closes when the watermark is greater than this.
    pub close: Millis,
    /// The host's accumulator; `None` until the host folds the first value in.
    pub acc: Option<A>,
}

/// A key's open windows: inline while there is one (a snapshot holds them as a list either
/// way).
pub type WindowList<A> = SmallVec<[Window<A>; 1]>;

/// A key's whole window state, as a snapshot holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyWindows<A> {
    /// The key's clock.
    pub clock: KeyClock,
    /// Its open windows.
    pub windows: WindowList<A>,
    /// The id its next session gets.
    pub next_session: WindowId,
}

impl<A> KeyWindows<A> {
    /// The same windows with each accumulator turned into another type (a restored
    /// snapshot's into the host's).
    pub fn try_into_map<B, E>(self, mut f: impl FnMut(A) -> Result<B, E>) -> Result<KeyWindows<B>, E> {
        let windows = self
            .windows
            .into_iter()
            .map(|w| {
                let acc = w.acc.map(&mut f).transpose()?;
                Ok(Window { id: w.id, start: w.start, last: w.last, close: w.close, acc })
            })
            .collect::<Result<_, E>>()?;
        Ok(KeyWindows { clock: self.clock, windows, next_session: self.next_session })
    }
}

/// Serializes a key's windows exactly as a `KeyWindows<B>` with each accumulator mapped
/// by `map` would be, without building one (snapshots take many keys per epoch).
pub struct MappedWindows<'a, A, F> {
    /// The windows.
    pub state: &'a KeyWindows<A>,
    /// Turns an accumulator into what is written for it.
    pub map: F,
}

impl<A, B: Serialize, F: Fn(&A) -> B> Serialize for MappedWindows<'_, A, F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq, SerializeStruct};
        struct Windows<'b, A, F>(&'b [Window<A>], &'b F);
        impl<A, B: Serialize, F: Fn(&A) -> B> Serialize for Windows<'_, A, F> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for w in self.0 {
                    let mapped = Window { id: w.id, start: w.start, last: w.last, close: w.close, acc: w.acc.as_ref().map(self.1) };
                    seq.serialize_element(&mapped)?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("KeyWindows", 3)?;
        st.serialize_field("clock", &self.state.clock)?;
        st.serialize_field("windows", &Windows(&self.state.windows, &self.map))?;
        st.serialize_field("next_session", &self.state.next_session)?;
        st.end()
    }
}
