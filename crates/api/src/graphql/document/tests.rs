//! The document checks on hostile and honest texts. Linearity is shown by counting
//! the items each check visits, which (unlike a clock) does not depend on the machine.

use super::*;

/// The default limits (`config::tests` pins each of their values).
pub(crate) fn limits() -> GraphqlLimits {
    crate::config::Source::from_vars(Default::default())
        .and_then(|s| s.load())
        .map(|c| c.graphql)
        .unwrap_or_else(|e| panic!("the default configuration loads: {e}"))
}

fn refused(query: &str) -> String {
    match check(Input::text(query), &limits()) {
        Err(e) => e.message(),
        Ok(v) => panic!("accepted: {query}: {v:?}"),
    }
}

fn checked(query: &str) -> Checked {
    match check(Input::text(query), &limits()) {
        Ok(Verdict::Checked(c)) => *c,
        other => panic!("not accepted: {query}: {other:?}"),
    }
}

/// 31 fragments, each spreading the next twice: 2^30 selections in about 1 KB.
fn bomb(levels: usize) -> String {
    let mut q = String::from("query { me { ...f0 } }");
    for i in 0..levels {
        q.push_str(&format!(
            " fragment f{i} on Me {{ ...f{n} ...f{n} }}",
            n = i + 1
        ));
    }
    q.push_str(&format!(" fragment f{levels} on Me {{ id name }}"));
    q
}

#[test]
fn a_fragment_bomb_is_refused_after_linear_work() {
    let q = bomb(30);
    assert!(q.len() < 1500, "{}", q.len());
    let mut work = Work::default();
    let started = std::time::Instant::now();
    let e = check_counting(Input::text(&q), &limits(), &mut work).unwrap_err();
    assert!(
        e.message()
            .contains("fields once its fragments are expanded"),
        "{}",
        e.message()
    );
    assert!(
        work.0 < 10 * q.len() as u64,
        "work {} for {} bytes",
        work.0,
        q.len()
    );
    // Generous: the check is microseconds; the unbounded walk took minutes.
    assert!(started.elapsed() < std::time::Duration::from_millis(100));
}

#[test]
fn the_bound_holds_for_the_whole_document_not_each_operation() {
    // Each operation stays under the bound; together they would not.
    let mut q = String::from("fragment T on Query { me { ");
    q.push_str(&"id name email ".repeat(10));
    q.push_str("} }");
    for i in 0..20 {
        q.push_str(&format!(" query q{i} {{ ...T }}"));
    }
    let mut limits = limits();
    limits.max_selections = 500;
    let e = check(
        Input {
            query: &q,
            operation_name: Some("q0"),
            variables_bytes: 0,
        },
        &limits,
    )
    .unwrap_err();
    assert!(e.message().contains("at most 500"), "{}", e.message());
    // The same operations, few enough, pass.
    let few = q.split(" query q3").next().unwrap_or_default();
    assert!(check(
        Input {
            query: few,
            operation_name: Some("q0"),
            variables_bytes: 0
        },
        &limits
    )
    .is_ok());
}

#[test]
fn fragment_cycles_are_refused() {
    let e = refused("{ me { ...a } } fragment a on Me { ...b } fragment b on Me { id ...a }");
    assert!(e.contains("spreads itself"), "{e}");
    let e = refused("{ me { ...a } } fragment a on Me { id ...a }");
    assert!(e.contains("spreads itself"), "{e}");
}

#[test]
fn deep_brackets_are_refused_before_parsing() {
    let deep = format!(
        "{{ me(x: {}1{}) {{ id }} }}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(refused(&deep).contains("nests brackets"));
    let deep = format!("{}{}", "{ a ".repeat(3000), "}".repeat(3000));
    assert!(refused(&deep).contains("nests brackets"));
    // Brackets inside strings and comments are text.
    let q = format!("{{ me {{ id }} }} # {}\n", "{".repeat(500));
    checked(&q);
    let q = format!(
        r#"query($s: String = "{}\"[[[") {{ me {{ id }} }}"#,
        "{".repeat(500)
    );
    checked(&q);
    let q = format!(
        r#"query($s: String = """{}\""" (( """) {{ me {{ id }} }}"#,
        "[".repeat(500)
    );
    checked(&q);
}

#[test]
fn fragment_chains_without_brackets_are_bounded() {
    let mut q = String::from("{ me { ...f0 } }");
    for i in 0..200 {
        q.push_str(&format!(" fragment f{i} on Me {{ ...f{} }}", i + 1));
    }
    q.push_str(" fragment f200 on Me { id }");
    assert!(refused(&q).contains("levels deep"));
}

#[test]
fn repeats_count_through_fragments_inline_fragments_and_merging() {
    let spreads = "...F ".repeat(11);
    let e = refused(&format!(
        "{{ {spreads} }} fragment F on Query {{ tasks(first: 100, filter: {{text: \"a\"}}) {{ nodes {{ id }} }} }}"
    ));
    assert!(e.contains("`tasks` is repeated 11 times"), "{e}");
    // Each inline fragment no longer starts a fresh count.
    let inline = "... on Query { me { id } } ".repeat(11);
    assert!(refused(&format!("{{ {inline} }}")).contains("`me` is repeated 11 times"));
    // Merged parents merge their children: 4 × 3 = 12 ids under one `me`.
    let q = format!("{{ {} }}", "me { id id id } ".repeat(4));
    assert!(refused(&q).contains("`id` is repeated 12 times"));
    // Ten is fine.
    checked(&format!("{{ {} }}", "me { id } ".repeat(10)));
}

#[test]
fn aliases_count_every_spread() {
    let e = refused("{ ...F ...F } fragment F on Query { a: me { id } b: me { id } c: me { id } d: me { id } e: me { id } f: me { id } g: me { id } h: me { id } }");
    assert!(e.contains("16 aliases"), "{e}");
}

#[test]
fn root_fields_are_found_through_fragments() {
    let c = checked("mutation { ... on Mutation { login(input: {email: \"a\", password: \"b\"}) { accessToken } } }");
    assert_eq!(c.root_fields, ["login"]);
    assert!(c.mutation);
    let c = checked("mutation M { ...S } fragment S on Mutation { signUp: login(input: {email: \"a\", password: \"b\"}) { accessToken } }");
    assert_eq!(c.root_fields, ["login"], "the field, not its alias");
    let c = checked(
        "query Q { me { id } } mutation M { refreshSession(refreshToken: \"x\") { accessToken } }",
    );
    assert!(c.root_fields.contains(&"refreshSession".to_owned()));
    let input = Input {
        query: "query Q { me { id } } mutation M { x }",
        operation_name: Some("Q"),
        variables_bytes: 0,
    };
    assert!(!check(input, &limits())
        .map(|v| matches!(v, Verdict::Checked(c) if c.mutation))
        .unwrap());
}

/// A tiny deterministic generator (no dependency for one test).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

/// A random document: `n` fragments, each spreading up to four later ones (a DAG, so
/// expansions can be exponential), a few fields, some inline fragments and aliases.
fn random_document(rng: &mut Rng, n: usize) -> String {
    let mut q = String::from("query { me { ...f0 } }");
    for i in 0..n {
        q.push_str(&format!(" fragment f{i} on Me {{"));
        for _ in 0..1 + rng.next(3) {
            match rng.next(4) {
                0 => q.push_str(" id"),
                1 => q.push_str(&format!(" a{}: name", rng.next(1000))),
                2 => q.push_str(" ... on Me { email }"),
                _ => q.push_str(" organizations { nodes { id } }"),
            }
        }
        for _ in 0..rng.next(5) {
            if i + 1 < n {
                let j = i + 1 + rng.next(n - i - 1);
                q.push_str(&format!(" ...f{j}"));
            }
        }
        q.push_str(" }");
    }
    q
}

#[test]
fn random_fragment_graphs_are_checked_in_linear_work() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut limits = limits();
    limits.max_aliases = 1_000;
    for round in 0..300 {
        let n = 1 + rng.next(120);
        let q = random_document(&mut rng, n);
        let mut work = Work::default();
        let verdict = check_counting(Input::text(&q), &limits, &mut work);
        // Parsing aside, the work is the text once plus the bounded expansion.
        let bound = 4 * q.len() as u64 + 4 * limits.max_selections as u64;
        assert!(
            work.0 <= bound,
            "round {round}: work {} over {bound} for {} bytes ({:?})",
            work.0,
            q.len(),
            verdict.map(|_| ())
        );
    }
}

#[test]
fn unused_fragments_are_refused_before_anything_walks_them() {
    let e = refused("{ me { id } } fragment Lone on Query { me { name } }");
    assert!(e.contains("fragment Lone is never used"), "{e}");
    checked("{ me { ...Used } } fragment Used on Me { name }");
}

#[test]
fn directives_are_bounded_in_every_place() {
    let three = "@include(if: true) @include(if: true) @include(if: true)";
    let four = format!("{three} @skip(if: false)");
    for q in [
        format!("query {four} {{ me {{ id }} }}"),
        format!("{{ me {{ ...F {four} }} }} fragment F on Me {{ id }}"),
        format!("{{ me {{ ... {four} {{ id }} }} }}"),
        format!("{{ me {{ ...F }} }} fragment F on Me {four} {{ id }}"),
        format!("query($v: Boolean {four}) {{ me {{ id }} }}"),
    ] {
        assert!(
            refused(&q).contains("4 directives stand in one place"),
            "{q}"
        );
    }
    checked(&format!(
        "query {three} {{ me {{ ...F {three} }} }} fragment F on Me {{ id }}"
    ));
}

#[test]
fn arguments_are_bounded_on_fields_and_directives() {
    let many: String = (0..33).map(|i| format!("a{i}: 0 ")).collect();
    assert!(refused(&format!("{{ me {{ id({many}) }} }}")).contains("takes 33 arguments"));
    assert!(refused(&format!("{{ me {{ id @skip({many}) }} }}")).contains("takes 33 arguments"));
}

#[test]
fn variables_may_be_used_only_as_often_as_their_size_allows() {
    // Fifteen uses (one per alias) of the variables.
    let uses: String = (0..15)
        .map(|i| format!("a{i}: __typename @include(if: $v) "))
        .collect();
    let q = format!("query($v: Boolean!) {{ {uses} }}");
    let input = |bytes| Input {
        query: &q,
        operation_name: None,
        variables_bytes: bytes,
    };
    let e = check(input(1_000_000), &limits()).unwrap_err().message();
    assert!(e.contains("uses its variables in 15 places"), "{e}");
    assert!(check(input(100_000), &limits()).is_ok());
}

#[test]
fn a_response_key_given_twice_anywhere_is_told_as_merging() {
    assert!(!checked("{ me { id name } project(id: 1) { id } }").merges);
    // Aliases make keys distinct.
    assert!(!checked("{ x: me { id } me { name x: id } }").merges);
    for query in [
        "{ me { id } me { name } }",
        "{ me { id id } }",
        "{ project(id: 1) { tasks { totalCount } tasks { nodes { id } } } }",
        "{ ...A ...B } fragment A on Query { me { id } } fragment B on Query { me { name } }",
        "{ me { ... on User { id } id } }",
    ] {
        assert!(checked(query).merges, "{query}");
    }
}
