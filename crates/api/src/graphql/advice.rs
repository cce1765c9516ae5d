//! The engine's own refusals (async-graphql's validation) say what is wrong; the few
//! an SPA developer meets most also get what to do. Matched on the engine's wording,
//! which `every_engine_refusal_we_advise_on_is_worded_as_matched` pins.

/// What to add to an engine message, by how the message starts; `None` replaces it.
const ADVICE: &[(&str, Option<&str>)] = &[
    (
        "Unknown field ",
        Some("ask only for fields schema.graphql lists for that type"),
    ),
    (
        "Unknown argument ",
        Some("send only the arguments schema.graphql lists for that field"),
    ),
    ("Unknown type ", Some("use a type schema.graphql declares")),
    ("Subscriptions are not supported on this transport", None),
];

/// Adds the remedy to an engine message (once; a suggestion the engine already made,
/// "Did you mean …?", is remedy enough).
pub(crate) fn advise(message: &mut String) {
    let Some((_, remedy)) = ADVICE.iter().find(|(start, _)| message.starts_with(start)) else {
        return;
    };
    match remedy {
        None => *message = super::live::ONLY_OVER_WS.to_owned(),
        Some(_) if message.contains("Did you mean") => {}
        Some(remedy) => {
            let kept = message.trim_end_matches('.').len();
            message.truncate(kept);
            message.push_str("; ");
            message.push_str(remedy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::{CrustSchema, Mutation, Query, Root, Subscription};

    /// The engine's words for each mistake we advise on, as this version of
    /// async-graphql says them: an upgrade that rewords one fails here, not silently.
    #[tokio::test]
    async fn every_engine_refusal_we_advise_on_is_worded_as_matched() {
        let schema = CrustSchema::build(
            Root::query(Query::default(), false),
            Root::mutation(Mutation::default(), false),
            Subscription,
        )
        .disable_suggestions()
        .finish();
        let mistakes = [
            "{ me { nmae } }",
            "{ organizations(frist: 2) { nodes { id } } }",
            "query($x: Nope) { me { id } }",
            "subscription { taskChanged(taskId: \"x\") { kind } }",
        ];
        for (query, (start, remedy)) in mistakes.iter().zip(ADVICE) {
            let response = schema.execute(*query).await;
            let mut message = response
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            assert!(message.starts_with(start), "{query}: {message}");
            advise(&mut message);
            match remedy {
                Some(remedy) => assert!(message.ends_with(remedy), "{message}"),
                None => assert!(message.contains("/graphql/ws"), "{message}"),
            }
        }
    }

    #[test]
    fn an_engine_suggestion_is_left_as_it_is() {
        let mut message = "Unknown field \"nme\" on type \"Me\". Did you mean \"name\"?".to_owned();
        let before = message.clone();
        advise(&mut message);
        assert_eq!(message, before);
        let mut other = "Variable \"$x\" is not defined.".to_owned();
        advise(&mut other);
        assert_eq!(other, "Variable \"$x\" is not defined.");
    }
}
