//! What a file is (from its bytes, never from its name or the client's word), what its
//! stored name may be, and how it is named again on the way out.

/// How many leading bytes type detection looks at.
pub const SNIFF_BYTES: usize = 8192;

/// The media type of a file whose first bytes are `head` (all of it, when the file is
/// shorter than [`SNIFF_BYTES`]). Magic numbers first (`infer`); then markup a browser
/// would run, recognized before anything could call it text; then text (UTF-8
/// without NUL bytes); anything else is `application/octet-stream`.
pub fn detect(head: &[u8]) -> &'static str {
    // infer calls any XML `text/xml`: SVG (which can carry script) is told apart below.
    if let Some(kind) = infer::get(head).filter(|k| !k.mime_type().ends_with("/xml")) {
        return kind.mime_type();
    }
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut at the end of the sniffed window is still text.
        Err(e) if e.error_len().is_none() && head.len() >= SNIFF_BYTES => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return "application/octet-stream",
    };
    if text.contains('\0') {
        return "application/octet-stream";
    }
    let lowered = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    if lowered.starts_with('<') {
        if lowered.contains("<svg") {
            return "image/svg+xml";
        }
        if [
            "<!doctype html",
            "<html",
            "<head",
            "<body",
            "<script",
            "<iframe",
        ]
        .iter()
        .any(|tag| lowered.contains(tag))
        {
            return "text/html";
        }
        if lowered.starts_with("<?xml") {
            return "application/xml";
        }
    }
    "text/plain"
}

/// Types that are text (what [`detect`] recognizes from text, and `infer`'s few text
/// types such as `text/x-shellscript`): for these, the rest of the file must be text
/// too (see [`TextCheck`]).
pub fn is_sniffed_text(kind: &str) -> bool {
    matches!(
        kind,
        "text/plain" | "text/html" | "image/svg+xml" | "application/xml"
    )
}

/// Checks, chunk by chunk, that a file typed as text stays text past the bytes
/// [`detect`] saw: UTF-8 without NUL bytes to the end. (Otherwise a text head could
/// carry anything behind it — an archive, an executable — past the allow list.)
#[derive(Default)]
pub struct TextCheck {
    /// The start of a character cut at the end of the last chunk (at most 3 bytes).
    carry: Vec<u8>,
}

impl TextCheck {
    /// Takes the next bytes; false once they are not text.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if bytes.contains(&0) {
            return false;
        }
        let joined;
        let data = if self.carry.is_empty() {
            bytes
        } else {
            joined = [self.carry.as_slice(), bytes].concat();
            joined.as_slice()
        };
        match std::str::from_utf8(data) {
            Ok(_) => {
                self.carry.clear();
                true
            }
            Err(e) if e.error_len().is_none() => {
                self.carry = data[e.valid_up_to()..].to_vec();
                true
            }
            Err(_) => false,
        }
    }

    /// The file ended: no character may be left cut.
    pub fn complete(&self) -> bool {
        self.carry.is_empty()
    }
}

/// Extensions a computer opens only to show: a viewer or an editor, never a program
/// or a page that runs. A stored name keeps one of these whatever the bytes are.
const PASSIVE_EXTENSIONS: &[&str] = &[
    "txt", "text", "md", "markdown", "csv", "tsv", "log", "json", "yaml", "yml", "toml", "ini",
    "cfg", "conf", "rst", "tex", "srt", "vtt", "diff", "patch", "png", "jpg", "jpeg", "jpe",
    "jfif", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif", "pdf", "zip", "gz", "tgz",
    "7z", "tar", "rtf", "doc", "xls", "ppt", "docx", "xlsx", "pptx", "odt", "ods", "odp", "mp3",
    "mp4", "m4v", "m4a",
];

/// Extensions a type may carry beyond the passive ones: those that open the bytes as
/// what they are (a page as a page). Kept only when the bytes are of that type.
const OWN_EXTENSIONS: &[(&str, &[&str])] = &[
    ("text/html", &["html", "htm"]),
    ("image/svg+xml", &["svg"]),
    ("application/xml", &["xml"]),
    (
        "application/vnd.microsoft.portable-executable",
        &["exe", "dll"],
    ),
    ("application/java-archive", &["jar"]),
];

/// The extension added to a name that does not fit the bytes: the type's own for
/// passive types, `txt` for markup (it opens as text), `bin` otherwise.
fn extension_of(kind: &str) -> &'static str {
    match kind {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/bmp" => "bmp",
        "image/tiff" => "tif",
        "image/avif" => "avif",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/gzip" => "gz",
        "audio/mpeg" => "mp3",
        "video/mp4" => "mp4",
        k if k.starts_with("text/") || k.ends_with("xml") => "txt",
        _ => "bin",
    }
}

/// The stored name, given what the bytes are. A name keeps its extension when a
/// computer would only show the file by it (`.txt`, `.png`, `.pdf` …), or when it is
/// the bytes' own (`.html` on HTML); any other (`.exe`, `.js`, `.jse`, `.command`,
/// `.docm` …, or `.html` on a GIF) gets a harmless extension added — `tool.exe` holding
/// text is kept as `tool.exe.txt` — so a saved file never opens as what it is not.
/// (An allow list: new dangerous extensions appear every year.)
pub fn name_for(name: &str, kind: &str) -> String {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return name.to_owned();
    };
    let ext = ext.to_ascii_lowercase();
    let fits = PASSIVE_EXTENSIONS.contains(&ext.as_str())
        || OWN_EXTENSIONS
            .iter()
            .any(|(of, exts)| *of == kind && exts.contains(&ext.as_str()));
    if fits {
        name.to_owned()
    } else {
        sanitize_name(&format!("{name}.{}", extension_of(kind)))
    }
}

/// Whether `kind` is on the allow list (`type/subtype` or `type/*`).
pub fn allowed(list: &[String], kind: &str) -> bool {
    list.iter().any(|entry| {
        entry.eq_ignore_ascii_case(kind)
            || entry
                .strip_suffix("/*")
                .is_some_and(|major| kind.split('/').next() == Some(major))
    })
}

/// Types a browser only ever displays (never runs), served under their own type;
/// everything else is served as `application/octet-stream`.
const PASSIVE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
    "application/pdf",
    "text/plain",
    "audio/mpeg",
    "video/mp4",
];

/// The `Content-Type` a stored file is served with.
pub fn served_type(stored: &str) -> &str {
    match PASSIVE.iter().find(|p| **p == stored) {
        Some(&"text/plain") => "text/plain; charset=utf-8",
        Some(p) => p,
        None => "application/octet-stream",
    }
}

/// Longest stored name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Characters that reorder or hide text: bidi controls, zero-width and invisible
/// fillers, line and paragraph separators, soft hyphens, tag characters.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{180E}' |
        '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' |
        '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}' |
        '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// The name a file is stored under: the last part of whatever path the client sent,
/// without control characters, bidi overrides or zero-width characters, without
/// leading dots or surrounding spaces, at most [`MAX_NAME_CHARS`] characters (a longer
/// one keeps its extension, up to 16 characters of it). A name with nothing left is
/// `attachment`.
pub fn sanitize_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !invisible(*c))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let cleaned = cleaned.trim_end_matches(['.', ' ']);
    if cleaned.is_empty() {
        return "attachment".into();
    }
    let chars: Vec<char> = cleaned.chars().collect();
    if chars.len() <= MAX_NAME_CHARS {
        return cleaned.to_owned();
    }
    let ext: Vec<char> = match cleaned.rfind('.') {
        Some(dot) if cleaned[dot..].chars().count() <= 16 => cleaned[dot..].chars().collect(),
        _ => Vec::new(),
    };
    let mut out: String = chars[..MAX_NAME_CHARS - ext.len()].iter().collect();
    out.extend(ext);
    out
}

/// `Content-Disposition: attachment` with the name as RFC 6266 gives it: an ASCII
/// fallback in `filename` and the exact name, percent-encoded UTF-8, in `filename*`
/// (RFC 5987).
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // attr-char of RFC 5987: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else encoded.
    const NOT_ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(name, NOT_ATTR_CHAR);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(detect(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(detect(b"  <!DOCTYPE html><p>hi"), "text/html");
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?><svg xmlns=\"x\"/>"),
            "image/svg+xml"
        );
        assert_eq!(detect("héllo, wörld".as_bytes()), "text/plain");
        assert_eq!(detect(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"), "text/plain");
        assert_eq!(detect(&[0u8, 1, 2, 3, 255]), "application/octet-stream");
        assert_eq!(
            detect(b"MZ\x90\0"),
            "application/vnd.microsoft.portable-executable"
        );
    }

    #[test]
    fn text_must_stay_text_to_the_end() {
        let mut t = TextCheck::default();
        let word = "größe".as_bytes();
        // A character cut between two chunks is fine.
        assert!(t.feed(&word[..3]) && t.feed(&word[3..]) && t.complete());
        assert!(!TextCheck::default().feed(b"text\0then binary"));
        assert!(!TextCheck::default().feed(b"PK\x03\x04\xff\xfe"));
        let mut cut = TextCheck::default();
        assert!(cut.feed(&word[..3]) && !cut.complete());
    }

    #[test]
    fn misleading_active_extensions_get_the_real_one() {
        assert_eq!(name_for("tool.exe", "text/plain"), "tool.exe.txt");
        assert_eq!(name_for("x.HTML", "image/gif"), "x.HTML.gif");
        assert_eq!(name_for("page.html", "text/html"), "page.html");
        assert_eq!(name_for("notes.md", "text/plain"), "notes.md");
        assert_eq!(name_for("photo.png", "text/html"), "photo.png");
        assert_eq!(name_for("run.sh", "text/plain"), "run.sh.txt");
        assert_eq!(name_for("x.jse", "text/plain"), "x.jse.txt");
        assert_eq!(name_for("x.command", "text/plain"), "x.command.txt");
        assert_eq!(
            name_for(
                "report.docm",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            ),
            "report.docm.bin"
        );
        assert_eq!(name_for("page.htm", "image/svg+xml"), "page.htm.txt");
        assert_eq!(name_for("README", "text/plain"), "README");
        assert_eq!(name_for("win.ini", "image/png"), "win.ini");
    }

    #[test]
    fn allow_list_with_wildcards() {
        let list = vec!["image/*".to_owned(), "text/plain".to_owned()];
        assert!(allowed(&list, "image/png"));
        assert!(allowed(&list, "text/plain"));
        assert!(!allowed(&list, "text/html"));
        assert!(!allowed(&list, "imagex/png"));
    }

    #[test]
    fn names_lose_paths_controls_and_bidi_overrides() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(
            sanitize_name("a\r\nSet-Cookie: x.txt"),
            "aSet-Cookie: x.txt"
        );
        assert_eq!(sanitize_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(sanitize_name("a.pdf\u{3164}\u{3164}.exe"), "a.pdf.exe");
        assert_eq!(sanitize_name("x\u{2028}y\u{E0041}.txt"), "xy.txt");
        assert_eq!(sanitize_name(".."), "attachment");
        assert_eq!(sanitize_name(".bashrc"), "bashrc");
        assert_eq!(sanitize_name(""), "attachment");
        let long = format!("{}.pdf", "x".repeat(1000));
        let kept = sanitize_name(&long);
        assert_eq!(kept.chars().count(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".pdf"));
    }

    #[test]
    fn dispositions_are_attachments_with_both_names() {
        assert_eq!(
            content_disposition("résumé \"v2\".pdf"),
            "attachment; filename=\"r_sum_ _v2_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf"
        );
    }

    #[test]
    fn only_passive_types_keep_their_type() {
        assert_eq!(served_type("image/png"), "image/png");
        assert_eq!(served_type("text/html"), "application/octet-stream");
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
    }
}
