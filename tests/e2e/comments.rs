//! Comments, their rules, and the markdown sanitizer against known XSS payloads.

use crust_e2e::{error_code, TestApp};
use serde_json::json;

const ADD: &str = "mutation($t: ID!, $b: String!) { addComment(input: {taskId: $t, body: $b}) { comment { id body bodyHtml author { id } } } }";

/// Known XSS payloads (OWASP's filter-evasion cheat sheet and friends), in markdown
/// and in raw HTML.
const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<body onload=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "[x](&#106;avascript:alert(1))",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<link rel=stylesheet href=javascript:alert(1)>",
    "<base href=\"javascript:alert(1)//\">",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
];

/// Checks every real tag of the HTML (text is escaped, so each `<` opens a tag):
/// only harmless elements, no event handlers, no style, no script-capable URLs.
fn assert_safe(html: &str, payload: &str) {
    const ALLOWED: &[&str] = &[
        "p",
        "a",
        "strong",
        "em",
        "code",
        "pre",
        "ul",
        "ol",
        "li",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "del",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "hr",
        "br",
        "input",
    ];
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let close = rest[open..]
            .find('>')
            .map(|c| open + c)
            .unwrap_or(rest.len());
        let tag = rest[open + 1..close].to_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            ALLOWED.contains(&name.as_str()),
            "<{name}> survived in {html:?} from {payload:?}"
        );
        for bad in [
            " on",
            "style=",
            "javascript:",
            "vbscript:",
            "data:",
            "srcdoc",
        ] {
            assert!(
                !tag.contains(bad),
                "`{bad}` survived in <{tag}> from {payload:?}"
            );
        }
        if name == "input" {
            // Only markdown task-list checkboxes, which cannot be focused into action.
            assert!(
                tag.contains("type=\"checkbox\"") && tag.contains("disabled"),
                "{tag}"
            );
        }
        rest = &rest[close.min(rest.len())..];
    }
}

#[tokio::test]
async fn the_sanitizer_defeats_known_xss_payloads() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let t = app.create_task(&owner, &p, None, "CONFIDENTIAL").await;
    for payload in PAYLOADS {
        let d = app.ok(&owner, ADD, json!({ "t": t, "b": payload })).await;
        let comment = &d["addComment"]["comment"];
        assert_eq!(comment["body"], *payload, "the markdown is kept as written");
        assert_safe(comment["bodyHtml"].as_str().unwrap(), payload);
    }
    // Descriptions of tasks and projects go through the same sanitizer.
    for payload in PAYLOADS {
        let d = app
            .ok(&owner, "mutation($t: ID!, $p: ID!, $d: String!) {
                    updateTask(input: {taskId: $t, description: $d}) { task { descriptionHtml } }
                    updateProject(input: {projectId: $p, description: $d}) { project { descriptionHtml } } }",
                json!({ "t": t, "p": p, "d": payload }))
            .await;
        assert_safe(
            d["updateTask"]["task"]["descriptionHtml"].as_str().unwrap(),
            payload,
        );
        assert_safe(
            d["updateProject"]["project"]["descriptionHtml"]
                .as_str()
                .unwrap(),
            payload,
        );
    }
    // Raw HTML never survives, even harmless-looking tags: it is shown as text.
    let d = app
        .ok(
            &owner,
            ADD,
            json!({ "t": t, "b": "<b>bold</b> and **strong**" }),
        )
        .await;
    let html = d["addComment"]["comment"]["bodyHtml"].as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt;") && html.contains("<strong>strong</strong>"),
        "{html}"
    );
    // No images (tracking pixels), no relative URLs.
    let d = app
        .ok(
            &owner,
            ADD,
            json!({ "t": t, "b": "![pixel](https://tracker.example/p.gif) [rel](/admin)" }),
        )
        .await;
    let html = d["addComment"]["comment"]["bodyHtml"].as_str().unwrap();
    assert!(
        !html.contains("<img") && !html.contains("tracker.example") && !html.contains("/admin"),
        "{html}"
    );
    // Ordinary links stay, made safe for new tabs.
    let d = app
        .ok(
            &owner,
            ADD,
            json!({ "t": t, "b": "[docs](https://example.com/docs)" }),
        )
        .await;
    let html = d["addComment"]["comment"]["bodyHtml"].as_str().unwrap();
    assert!(
        html.contains("href=\"https://example.com/docs\"") && html.contains("noopener"),
        "{html}"
    );
}

#[tokio::test]
async fn who_may_add_edit_and_delete_comments() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let guest = app.user("guest").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    app.add_org_member(&owner, &org, &guest, "GUEST").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let t = app.create_task(&owner, &p, None, "CONFIDENTIAL").await;
    app.grant(&owner, &t, &guest, "VIEW").await;
    // A guest on their granted task, and a member who reads the project, may comment.
    let g = app
        .ok(&guest, ADD, json!({ "t": t, "b": "from the guest" }))
        .await["addComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = app
        .ok(&member, ADD, json!({ "t": t, "b": "from the member" }))
        .await["addComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edit = "mutation($c: ID!) { editComment(input: {commentId: $c, body: \"edited\"}) { comment { body editedAt } } }";
    let d = app.ok(&member, edit, json!({ "c": m })).await;
    assert_eq!(d["editComment"]["comment"]["body"], "edited");
    assert!(d["editComment"]["comment"]["editedAt"].is_string());
    assert_eq!(
        error_code(&app.gql(Some(&owner.access), edit, json!({ "c": m })).await),
        Some("FORBIDDEN"),
        "only the author edits"
    );
    let delete = "mutation($c: ID!) { deleteComment(input: {commentId: $c}) { deletedCommentId } }";
    assert_eq!(
        error_code(
            &app.gql(Some(&member.access), delete, json!({ "c": g }))
                .await
        ),
        Some("FORBIDDEN")
    );
    assert_eq!(
        error_code(
            &app.gql(Some(&guest.access), delete, json!({ "c": m }))
                .await
        ),
        Some("FORBIDDEN")
    );
    app.ok(&owner, delete, json!({ "c": g })).await; // a project MANAGER (org owner) may
    app.ok(&member, delete, json!({ "c": m })).await; // and so may the author
    let left = app
        .ok(
            &owner,
            "query($t: ID!) { task(id: $t) { comments { totalCount } } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(left["task"]["comments"]["totalCount"], 0);
    for bad in ["", "   ", &"x".repeat(20_001)] {
        let body = app
            .gql(Some(&owner.access), ADD, json!({ "t": t, "b": bad }))
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    }
}
