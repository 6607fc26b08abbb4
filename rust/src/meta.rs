//! A board's window list as stored under `M\0<board>`, key `windows`: the JSON Python's
//! `json.dumps` wrote before the engine was compiled, so old state reads and new state is
//! byte-identical: `{"open": [[kind, period, start, end], ...], "closed": {kind: [...]}}`.

use std::sync::Arc;

use crate::types::{Kind, WindowRef};

pub type Closed = Vec<(Kind, Vec<Arc<WindowRef>>)>;

pub fn encode(open: &[Arc<WindowRef>], closed: &Closed) -> Vec<u8> {
    let mut out = String::from("{\"open\": [");
    rows(&mut out, open);
    out.push_str("], \"closed\": {");
    for (n, (kind, windows)) in closed.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(kind.name());
        out.push_str("\": [");
        rows(&mut out, windows);
        out.push(']');
    }
    out.push_str("}}");
    out.into_bytes()
}

fn rows(out: &mut String, windows: &[Arc<WindowRef>]) {
    use std::fmt::Write;
    for (n, w) in windows.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "[\"{}\", ", w.kind.name());
        match &w.period {
            Some(p) => {
                let _ = write!(out, "\"{p}\", ");
            }
            None => out.push_str("null, "),
        }
        for (i, bound) in [w.start, w.end].iter().enumerate() {
            match bound {
                Some(v) => {
                    let _ = write!(out, "{v}");
                }
                None => out.push_str("null"),
            }
            if i == 0 {
                out.push_str(", ");
            }
        }
        out.push(']');
    }
}

/// Parse what [`encode`] (or Python's `json.dumps` of the same shape) wrote.
pub fn decode(raw: &[u8]) -> Result<(Vec<Arc<WindowRef>>, Closed), String> {
    let mut p = Parser { s: raw, at: 0 };
    let mut open = Vec::new();
    let mut closed = Vec::new();
    p.expect(b'{')?;
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key.as_str() {
            "open" => open = p.rows()?,
            "closed" => {
                p.expect(b'{')?;
                loop {
                    p.ws();
                    if p.eat(b'}') {
                        break;
                    }
                    let kind = p.string()?;
                    let kind = Kind::parse(&kind).ok_or_else(|| format!("unknown kind {kind}"))?;
                    p.ws();
                    p.expect(b':')?;
                    p.ws();
                    closed.push((kind, p.rows()?));
                    p.ws();
                    p.eat(b',');
                }
            }
            other => return Err(format!("unknown key {other}")),
        }
        p.ws();
        p.eat(b',');
    }
    Ok((open, closed))
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.at))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let start = self.at;
        while self.at < self.s.len() && self.s[self.at] != b'"' {
            if self.s[self.at] == b'\\' {
                return Err("escapes do not occur in window metadata".into());
            }
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).map_err(|e| e.to_string())?;
        self.expect(b'"')?;
        Ok(text.to_owned())
    }

    fn null(&mut self) -> bool {
        if self.s[self.at..].starts_with(b"null") {
            self.at += 4;
            true
        } else {
            false
        }
    }

    fn int(&mut self) -> Result<Option<i64>, String> {
        if self.null() {
            return Ok(None);
        }
        let start = self.at;
        self.eat(b'-'); // an optional sign
        while self.at < self.s.len() && self.s[self.at].is_ascii_digit() {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).map_err(|e| e.to_string())?;
        text.parse()
            .map(Some)
            .map_err(|e| format!("bad integer {text:?}: {e}"))
    }

    fn rows(&mut self) -> Result<Vec<Arc<WindowRef>>, String> {
        let mut out = Vec::new();
        self.expect(b'[')?;
        loop {
            self.ws();
            if self.eat(b']') {
                return Ok(out);
            }
            self.expect(b'[')?;
            self.ws();
            let kind = self.string()?;
            let kind = Kind::parse(&kind).ok_or_else(|| format!("unknown kind {kind}"))?;
            self.ws();
            self.expect(b',')?;
            self.ws();
            let period = if self.null() {
                None
            } else {
                Some(self.string()?)
            };
            self.ws();
            self.expect(b',')?;
            self.ws();
            let start = self.int()?;
            self.ws();
            self.expect(b',')?;
            self.ws();
            let end = self.int()?;
            self.ws();
            self.expect(b']')?;
            out.push(Arc::new(WindowRef {
                kind,
                period,
                start,
                end,
            }));
            self.ws();
            self.eat(b',');
        }
    }
}

#[cfg(test)]
#[path = "tests/meta.rs"]
mod tests;
