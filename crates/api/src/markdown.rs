//! Markdown to safe HTML for `descriptionHtml` and `bodyHtml`.
//!
//! Two walls: raw HTML in the markdown is never passed through (it is shown as text),
//! and the rendered HTML then goes through ammonia's allow-list sanitizer, which drops
//! scripts, event handlers, styles, images and any URL but absolute http, https and
//! mailto ones.

use std::sync::OnceLock;

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

/// Renders markdown to sanitized HTML.
pub fn to_safe_html(markdown: &str) -> String {
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
            to_safe_html("**bold** and *em*"),
            "<p><strong>bold</strong> and <em>em</em></p>\n"
        );
        let link = to_safe_html("[site](https://example.com)");
        assert!(link.contains("href=\"https://example.com\""), "{link}");
        assert!(
            link.contains("rel=\"noopener noreferrer nofollow\""),
            "{link}"
        );
    }
}
