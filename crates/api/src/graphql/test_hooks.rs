//! Test profile only (`CRUST_TEST_HOOKS`): a root field aliased `crustTestPanic`
//! panics inside its resolver, so the tests can show what a panic becomes; one aliased
//! `crustTestStall` blocks its worker thread for a minute, as a runaway computation
//! would, so the tests can show that shutdown does not wait for it; one aliased
//! `crustTestSlow` answers after two seconds without holding a thread, as a slow but
//! healthy request would, so the tests can show that shutdown lets it finish.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};

pub struct PanicProbe;

impl ExtensionFactory for PanicProbe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PanicProbe)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PanicProbe {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.alias == Some("crustTestPanic") {
            panic!("test hook: a resolver panicked at /srv/crust/src/secret_path.rs:42");
        }
        if info.alias == Some("crustTestStall") {
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
        if info.alias == Some("crustTestSlow") {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        next.run(ctx, info).await
    }
}
