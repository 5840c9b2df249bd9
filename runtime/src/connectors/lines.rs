//! Reading a text file line by line, as `FileInput` does.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Lines taken per poll by the file sources: a line costs little to read, and a bigger
/// batch lets a keyed step downstream (a word count's window) place each key once for
/// more of its items. 8192 lines of the benchmark text made its pure-WASM wordcount about
/// 20% faster than 1024; memory grows with it.
pub const LINE_BATCH: usize = 8192;

/// Reads lines without their line ending. Input ends at end of file **or at the first empty
/// line**, the behaviour of Bytewax 0.16's `FileInput` that existing flows rely on.
pub struct LineReader {
    path: PathBuf,
    reader: BufReader<File>,
    buf: String,
    offset: u64,
    done: bool,
}

impl LineReader {
    /// Opens `path`, starting at byte `offset` (0 for the start).
    pub fn open(path: &Path, offset: u64) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))?;
        }
        Ok(LineReader {
            path: path.to_owned(),
            reader: BufReader::with_capacity(1 << 16, file),
            buf: String::new(),
            offset,
            done: false,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte offset just after the last line returned: where a resumed read starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next line, or `None` at the end of input.
    pub fn next_line(&mut self) -> std::io::Result<Option<&str>> {
        if self.done {
            return Ok(None);
        }
        self.buf.clear();
        let n = self.reader.read_line(&mut self.buf)?;
        self.offset += n as u64;
        let line = self.buf.strip_suffix('\n').unwrap_or(&self.buf);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            self.done = true;
            return Ok(None);
        }
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    mod tempfile_path {
        use super::*;
        pub struct TempPath(pub PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> Self {
                static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let p = std::env::temp_dir().join(format!("lines-{}-{n}.txt", std::process::id()));
                File::create(&p).unwrap().write_all(text.as_bytes()).unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn all_lines(r: &mut LineReader) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            v.push(l.to_owned());
        }
        v
    }

    #[test]
    fn strips_endings_and_stops_at_first_empty_line() {
        let f = file_with("a\r\nb\n\nc\n");
        let mut r = LineReader::open(&f.0, 0).unwrap();
        assert_eq!(all_lines(&mut r), ["a", "b"]);
    }

    #[test]
    fn last_line_without_newline_and_resume_offset() {
        let f = file_with("one\ntwo\nthree");
        let mut r = LineReader::open(&f.0, 0).unwrap();
        assert_eq!(r.next_line().unwrap(), Some("one"));
        let off = r.offset();
        assert_eq!(off, 4);
        let mut resumed = LineReader::open(&f.0, off).unwrap();
        assert_eq!(all_lines(&mut resumed), ["two", "three"]);
    }
}
