//! Markdown to safe HTML for `descriptionHtml` and `bodyHtml`.
//!
//! Two walls: raw HTML in the markdown is never passed through (it is shown as text),
//! and the rendered HTML then goes through ammonia's allow-list sanitizer, which drops
//! scripts, event handlers, styles, images and any URL but absolute http, https and
//! mailto ones.
//!
//! Renderings are kept in a bounded memo by object and text, so that a board's
//! comments are not parsed and sanitized again on every request.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use uuid::Uuid;

use pulldown_cmark::{html, CowStr, Event, Options, Parser};

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.url_schemes(["http", "https", "mailto"].into_iter().collect())
            // No images: a remote image is a tracking pixel on everyone who reads it.
            .rm_tags(["img"])
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("noopener noreferrer nofollow"))
            .strip_comments(true);
        b
    })
}

/// Renders the markdown of the object `owner` (a comment's body, a task's or
/// project's description) to sanitized HTML, from the process's memo of recent
/// renderings when that object's same text was rendered before (see [`Rendered`]).
pub fn to_safe_html_of(owner: Uuid, markdown: &str) -> String {
    if markdown.is_empty() || markdown.len() > Rendered::MAX_TEXT {
        return render(markdown);
    }
    if let Some(html) = rendered().get(owner, markdown) {
        return html.to_string();
    }
    let html = render(markdown);
    rendered().put(owner, markdown, &html);
    html
}

/// Recent renderings, by object and text. Rendering a short comment (parsing and
/// sanitizing HTML) costs tens of microseconds, and a board shows the same comments
/// and descriptions request after request. Keyed by the object as well as the text so
/// that how fast an answer comes never depends on another object's text (a text
/// matched across organizations would be a timing oracle of what others wrote): a hit
/// tells that this object, which the caller may read, was rendered since its last
/// edit. What is left is the server's load in general: when the memo starts afresh
/// (after [`Rendered::MAX_BYTES`] of renderings by anyone) a caller's own comments
/// render more slowly once, as they do whenever the server is busy. Bounded: empty and
/// long texts are not kept, and each entry counts its bookkeeping as well as its text.
#[derive(Default)]
struct Rendered {
    /// object → (its text as last rendered, the HTML)
    html: HashMap<Uuid, (Box<str>, Arc<str>)>,
    bytes: usize,
}

impl Rendered {
    const MAX_TEXT: usize = 4 * 1024;
    const MAX_BYTES: usize = 8 * 1024 * 1024;
    /// What an entry costs besides its texts: the key, two pointers, the shared
    /// string's counts and the table's spare room, rounded up.
    const PER_ENTRY: usize = 160;

    fn get(&self, owner: Uuid, markdown: &str) -> Option<Arc<str>> {
        let (text, html) = self.html.get(&owner)?;
        (**text == *markdown).then(|| html.clone())
    }

    fn put(&mut self, owner: Uuid, markdown: &str, html: &str) {
        let size = Self::PER_ENTRY + markdown.len() + html.len();
        if self.bytes + size > Self::MAX_BYTES {
            // A new table: `clear` would keep the old one's capacity.
            self.html = HashMap::new();
            self.bytes = 0;
        }
        // An edited text replaces the object's earlier one.
        if let Some((text, old)) = self.html.insert(owner, (markdown.into(), html.into())) {
            self.bytes -= Self::PER_ENTRY + text.len() + old.len();
        }
        self.bytes += size;
    }
}

fn rendered() -> std::sync::MutexGuard<'static, Rendered> {
    static RENDERED: OnceLock<std::sync::Mutex<Rendered>> = OnceLock::new();
    RENDERED
        .get_or_init(Default::default)
        .lock()
        // Nothing panics while holding it; a poisoned memo is still a valid one.
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Markdown to sanitized HTML, behind the two walls above.
fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // Raw HTML blocks and inline tags become literal text.
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(CowStr::from(raw.into_string())),
        other => other,
    });
    let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut rendered, events);
    sanitizer().clean(&rendered).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders() {
        assert_eq!(
            render("**bold** and *em*"),
            "<p><strong>bold</strong> and <em>em</em></p>\n"
        );
        let link = render("[site](https://example.com)");
        assert!(link.contains("href=\"https://example.com\""), "{link}");
        assert!(
            link.contains("rel=\"noopener noreferrer nofollow\""),
            "{link}"
        );
    }

    #[test]
    fn the_memo_answers_what_rendering_does_and_stays_bounded() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        for text in ["*one*", "<script>alert(1)</script> **two**", "*one*"] {
            assert_eq!(to_safe_html_of(a, text), render(text));
        }
        assert!(rendered().get(a, "*one*").is_some());
        assert!(
            rendered().get(b, "*one*").is_none(),
            "another object's same text is not a hit"
        );
        let long = "x".repeat(Rendered::MAX_TEXT + 1);
        assert_eq!(to_safe_html_of(a, &long), render(&long));
        assert!(
            rendered().get(a, &long).is_none(),
            "long texts are not kept"
        );

        let mut memo = Rendered::default();
        let html = "h".repeat(1024 * 1024);
        for i in 0..20 {
            memo.put(a, &format!("text {i}"), &html);
            assert!(memo.bytes <= Rendered::MAX_BYTES, "{}", memo.bytes);
        }
        assert!(memo.get(a, "text 19").is_some());
        assert!(
            memo.get(a, "text 18").is_none(),
            "an edit replaces the text"
        );
        for _ in 0..20 {
            memo.put(Uuid::new_v4(), "t", &html);
            assert!(memo.bytes <= Rendered::MAX_BYTES, "{}", memo.bytes);
        }
        assert!(memo.get(a, "text 19").is_none(), "started afresh when full");

        // Small entries count their bookkeeping: a full memo of one-letter texts stays
        // within the bound by entries, not only by text bytes.
        let mut memo = Rendered::default();
        for _ in 0..(Rendered::MAX_BYTES / Rendered::PER_ENTRY + 10) {
            memo.put(Uuid::new_v4(), "x", "<p>x</p>");
        }
        assert!(memo.html.len() <= Rendered::MAX_BYTES / Rendered::PER_ENTRY);
        assert_eq!(to_safe_html_of(a, ""), "");
        assert!(rendered().get(a, "").is_none(), "empty texts are not kept");
    }
}
