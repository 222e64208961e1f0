//! The helper's framing: request fields and answer lines (see `helper.sh`).

/// The bytes a field carries as themselves (none is whitespace, a glob character, a quote, a
/// backslash or `%`, the two bytes printf reads in a format); every other byte is `\ooo`.
/// Keys (`name@instance`) and paths need no escape: no decoding process for them there.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'_' | b'.' | b'/' | b'-' | b'@' | b':' | b'+' | b',' | b'='
        )
}

/// `value` as a request field: `=`, then the value with every byte outside
/// `[A-Za-z0-9_./@:+,=-]` written as a backslash and three octal digits. `None` for a value with a
/// NUL byte, which no argument or environment variable can carry.
pub(crate) fn field(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 1);
    out.push('=');
    for b in value.bytes() {
        if b == 0 {
            return None;
        }
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push('\\');
            out.push(char::from(b'0' + (b >> 6)));
            out.push(char::from(b'0' + ((b >> 3) & 7)));
            out.push(char::from(b'0' + (b & 7)));
        }
    }
    Some(out)
}

/// A line the helper wrote.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// `r ID WORDS`: the answer to request `id`.
    Reply { id: u64, words: &'a str },
    /// `x ID STATUS`: the daemon started by request `id` exited (`sh` status: 128 + signal
    /// for a signal).
    Exit { id: u64, status: i32 },
    /// `g ID`: a grace of the stop chain of request `id` ran out.
    Grace { id: u64 },
    /// `c ID PIECE`: a piece of the text of the answer to request `id` to come (a long record,
    /// sent in pieces so that every line stays under PIPE_BUF).
    Piece { id: u64, text: &'a str },
    /// Anything else (ignored).
    Other,
}

/// Parses one line (without its newline).
pub(crate) fn parse(line: &str) -> Line<'_> {
    let mut parts = line.splitn(3, ' ');
    let (Some(kind), Some(id)) = (parts.next(), parts.next()) else {
        return Line::Other;
    };
    let Ok(id) = id.parse::<u64>() else {
        return Line::Other;
    };
    let rest = parts.next().unwrap_or("");
    match kind {
        "r" => Line::Reply { id, words: rest },
        "x" => match rest.trim().parse() {
            Ok(status) => Line::Exit { id, status },
            Err(_) => Line::Other,
        },
        "g" => Line::Grace { id },
        "c" => Line::Piece { id, text: rest },
        _ => Line::Other,
    }
}

/// A record as the helper sends it (lines joined by carriage returns) back to its text.
pub(crate) fn record_text(joined: &str) -> String {
    joined.replace('\r', "\n")
}

/// Decodes the helper's hex (`od -An -tx1`, spaces removed); invalid pairs are skipped.
pub(crate) fn unhex(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks_exact(2)
        .filter_map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_carry_no_shell_syntax() {
        let hostile = "a b'\"$(rm -rf /);*\n\\%s`x`";
        let f = field(hostile).unwrap();
        assert!(f.starts_with('='));
        assert!(f[1..].bytes().all(|b| plain(b) || b == b'\\'), "{f}");
        assert_eq!(field("plain/path-1.2_x").unwrap(), "=plain/path-1.2_x");
        assert_eq!(field("").unwrap(), "=");
        assert_eq!(field("%").unwrap(), "=\\045");
        assert_eq!(field("é").unwrap(), "=\\303\\251");
        assert_eq!(field("a\0b"), None);
    }

    #[test]
    fn lines_parse() {
        assert_eq!(
            parse("r 7 ok 1 2"),
            Line::Reply {
                id: 7,
                words: "ok 1 2"
            }
        );
        assert_eq!(parse("r 7"), Line::Reply { id: 7, words: "" });
        assert_eq!(parse("x 9 143"), Line::Exit { id: 9, status: 143 });
        assert_eq!(parse("g 3"), Line::Grace { id: 3 });
        assert_eq!(
            parse("c 4 a b "),
            Line::Piece {
                id: 4,
                text: "a b "
            }
        );
        assert_eq!(parse("noise"), Line::Other);
        assert_eq!(parse("r x ok"), Line::Other);
    }

    #[test]
    fn hex_decodes() {
        assert_eq!(unhex("68690a"), b"hi\n");
        assert_eq!(record_text("a=1\rb=2\r"), "a=1\nb=2\n");
    }
}
