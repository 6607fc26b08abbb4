//! What the parent process of `rankstream replay --jobs N` does for every line: split the
//! input into lines and find the board each is routed by, and lay the workers' answers out
//! in line order. Compiled because, in Python, this per-line work was what kept `--jobs 2`
//! from being nearly twice as fast as `--jobs 1` on two cores.
//!
//! `rankstream replay --jobs N` routes every line to the process that owns its board; that
//! process validates it. The router only needs the board, so it reads it from the bytes:
//! in a line without a backslash every string token is written literally, so when the
//! token `"board"` occurs exactly once it is the top-level key and the string after its
//! colon is the board. Anything else (escapes, two `"board"` tokens, a nested object that
//! has one, no string after the colon) is left to the caller to decode in full. Done here
//! because the router does it for every line, and in Python it was most of its time.

/// One non-blank line: its 1-based number, its bytes without the line end, and the board
/// read from the bytes, or None when the line must be decoded to know.
pub struct Line<'a> {
    pub number: u64,
    pub body: &'a [u8],
    pub board: Option<&'a [u8]>,
}

const TOKEN: &[u8] = b"\"board\"";

/// The lines of `block` (complete lines; the last one may lack its `\n`), numbered from
/// `first`; blank lines (only ASCII whitespace) are counted but not returned. Returns the
/// lines and the number of lines counted.
pub fn split(block: &[u8], first: u64) -> (Vec<Line<'_>>, u64) {
    let mut out = Vec::new();
    let mut counted = 0;
    if block.is_empty() {
        return (out, 0);
    }
    let mut pieces: Vec<&[u8]> = block.split(|&b| b == b'\n').collect();
    if block.last() == Some(&b'\n') {
        pieces.pop(); // the empty piece after the final line end
    }
    for piece in pieces {
        counted += 1;
        let mut end = piece.len();
        while end > 0 && matches!(piece[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        let body = &piece[..end];
        if body.iter().all(|b| b" \t\n\r\x0b\x0c".contains(b)) {
            continue;
        }
        out.push(Line {
            number: first + counted - 1,
            body,
            board: board(body),
        });
    }
    (out, counted)
}

/// The board of a line by the fast path of the module docs, or None.
pub fn board(body: &[u8]) -> Option<&[u8]> {
    let at = find(body, TOKEN, 0)?;
    if find(body, TOKEN, at + TOKEN.len()).is_some() || body.contains(&b'\\') {
        return None;
    }
    let mut i = skip_space(body, at + TOKEN.len());
    if body.get(i) != Some(&b':') {
        return None;
    }
    i = skip_space(body, i + 1);
    if body.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let len = body[start..].iter().position(|&b| b == b'"')?;
    Some(&body[start..start + len])
}

fn skip_space(body: &[u8], mut i: usize) -> usize {
    while i < body.len() && matches!(body[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A block of replay's input (complete lines) split into lines, each with the board it is
/// routed by, ready to be cut into per-worker shares.
pub struct Block {
    data: Vec<u8>,
    /// (line number, start, end) of every non-blank line
    lines: Vec<(u64, usize, usize)>,
    /// per line: index into `boards`, or UNKNOWN (decode to know) or NONE (no board)
    ids: Vec<u32>,
    /// distinct boards, first seen first
    boards: Vec<Vec<u8>>,
    /// lines counted, blank ones included
    pub counted: u64,
}

pub const UNKNOWN: u32 = u32::MAX;
pub const NONE: u32 = u32::MAX - 1;

impl Block {
    pub fn new(data: Vec<u8>, first: u64) -> Block {
        let mut block = Block {
            data: Vec::new(),
            lines: Vec::new(),
            ids: Vec::new(),
            boards: Vec::new(),
            counted: 0,
        };
        let (lines, counted) = split(&data, first);
        block.counted = counted;
        let base = data.as_ptr() as usize;
        for line in &lines {
            let start = line.body.as_ptr() as usize - base;
            block
                .lines
                .push((line.number, start, start + line.body.len()));
            let id = match line.board {
                Some(board) => block.id_of(board),
                None => UNKNOWN,
            };
            block.ids.push(id);
        }
        drop(lines);
        block.data = data;
        block
    }

    fn id_of(&mut self, board: &[u8]) -> u32 {
        match self.boards.iter().position(|b| b == board) {
            Some(at) => at as u32,
            None => {
                self.boards.push(board.to_vec());
                (self.boards.len() - 1) as u32
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn body(&self, line: usize) -> &[u8] {
        let (_, start, end) = self.lines[line];
        &self.data[start..end]
    }

    /// Lines whose board the bytes did not settle: the caller decodes them.
    pub fn unknown(&self) -> Vec<usize> {
        (0..self.ids.len())
            .filter(|&i| self.ids[i] == UNKNOWN)
            .collect()
    }

    /// The decoded board of a line (None: not a valid event, no board).
    pub fn set_board(&mut self, line: usize, board: Option<&[u8]>) {
        self.ids[line] = match board {
            Some(board) => self.id_of(board),
            None => NONE,
        };
    }

    /// (board, lines) per distinct board, first seen first; lines without a board left out.
    pub fn counts(&self) -> Vec<(&[u8], usize)> {
        let mut counts = vec![0usize; self.boards.len()];
        for &id in &self.ids {
            if (id as usize) < counts.len() {
                counts[id as usize] += 1;
            }
        }
        self.boards
            .iter()
            .map(Vec::as_slice)
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Per worker, its lines' numbers and its lines joined by `\n`: a line goes to the owner
    /// of its board (`owner_of[board id]`), a line without a board to `number % jobs`.
    pub fn shares(&self, owner_of: &[usize], jobs: usize) -> Vec<(Vec<i64>, Vec<u8>)> {
        let mut out: Vec<(Vec<i64>, Vec<u8>)> =
            (0..jobs).map(|_| (Vec::new(), Vec::new())).collect();
        for (at, &(number, start, end)) in self.lines.iter().enumerate() {
            let id = self.ids[at];
            let w = if (id as usize) < owner_of.len() {
                owner_of[id as usize]
            } else {
                (number % jobs as u64) as usize
            };
            let (numbers, joined) = &mut out[w];
            if !numbers.is_empty() {
                joined.push(b'\n');
            }
            numbers.push(number as i64);
            joined.extend_from_slice(&self.data[start..end]);
        }
        out
    }

    /// The distinct boards, first seen first (an owner per board is asked for in this order).
    pub fn boards(&self) -> &[Vec<u8>] {
        &self.boards
    }
}

/// One worker's answers of one chunk: line numbers (ascending), where each answer goes
/// (0: stdout, 1: --dlq) and the end offset of each answer in the worker's blob.
pub struct Answers<'a> {
    pub numbers: &'a [i64],
    pub wheres: &'a [u8],
    pub ends: &'a [i64],
}

/// The file offset of every answer when all workers' answers of a chunk are laid out in
/// line order, stdout and --dlq each from its cursor; the cursors end after the chunk.
pub fn offsets(workers: &[Answers<'_>], cursors: &mut [i64; 2]) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = workers
        .iter()
        .map(|w| Vec::with_capacity(w.numbers.len()))
        .collect();
    let mut next = vec![0usize; workers.len()];
    loop {
        let mut pick: Option<usize> = None;
        for (w, answers) in workers.iter().enumerate() {
            if let Some(&n) = answers.numbers.get(next[w]) {
                if pick.is_none_or(|p| n < workers[p].numbers[next[p]]) {
                    pick = Some(w);
                }
            }
        }
        let Some(w) = pick else { return out };
        let (answers, i) = (&workers[w], next[w]);
        let size = answers.ends[i] - if i == 0 { 0 } else { answers.ends[i - 1] };
        let cursor = &mut cursors[usize::from(answers.wheres[i] != 0)];
        out[w].push(*cursor);
        *cursor += size;
        next[w] += 1;
    }
}

#[cfg(test)]
#[path = "tests/replay_io.rs"]
mod tests;
