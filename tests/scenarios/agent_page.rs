//! `/agents/{id}`: an agent's own page lists what it cannot reach. With
//! `edge-ap` failing the service below the quorum until it is `degraded`,
//! its page lists the service (degraded by it, with its error and since
//! when); a succeeding agent's page lists nothing; an unknown id is 404;
//! `/agents` links each name to the page.

use picket_e2e::inproc::Outcome;

use crate::common::SERVICE;
use crate::degraded::degraded_by_ap;

#[tokio::test(start_paused = true)]
async fn an_agents_page_lists_the_services_it_fails_and_not_those_it_reaches() -> anyhow::Result<()>
{
    let (h, mut agents) = degraded_by_ap().await?;
    let s = h.service(SERVICE).await?;
    let error = s.degraded_agents[0].error.clone();
    let (ap, eu) = (agents[0].id().to_owned(), agents[1].id().to_owned());

    let list = h.http_get("/agents").await?;
    for id in [&ap, &eu] {
        assert!(
            list.body.contains(&format!("<a href=\"/agents/{id}\">")),
            "{id}: {}",
            list.body
        );
    }

    let page = h.http_get(&format!("/agents/{ap}")).await?;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<h1>Agent edge-ap</h1>"),
        "{}",
        page.body
    );
    let row = page
        .body
        .split("<tr class=\"failure\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure row: {}", page.body));
    assert!(
        row.contains(&format!("<a href=\"/services/{SERVICE}\">{SERVICE}</a>")),
        "{row}"
    );
    assert!(row.contains("Degraded</span> by this agent"), "{row}");
    assert!(row.contains(&error), "the error {error:?}: {row}");
    assert!(row.contains(" ago)"), "since when: {row}");

    let reaches = h.http_get(&format!("/agents/{eu}")).await?;
    assert_eq!(reaches.status, 200, "{}", reaches.body);
    assert!(
        reaches
            .body
            .contains("This agent reaches every service it probes."),
        "{}",
        reaches.body
    );
    assert!(
        !reaches.body.contains("class=\"failure\""),
        "{}",
        reaches.body
    );

    // A failed latest result alone lists the service too: edge-eu-2 fails
    // once.
    agents[2].report(SERVICE, &Outcome::status(503)).await?;
    h.wait_service(SERVICE, "edge-eu-2's failure recorded", |s| {
        s.latest.iter().any(|l| l.agent == "edge-eu-2" && !l.ok)
    })
    .await?;
    let once = h.http_get(&format!("/agents/{}", agents[2].id())).await?;
    let row = once
        .body
        .split("<tr class=\"failure\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure row: {}", once.body));
    assert!(row.contains("latest result failed"), "{row}");
    assert!(row.contains("HTTP 503"), "{row}");

    for missing in [
        "/agents/nope",
        "/agents/00000000-0000-0000-0000-000000000000",
    ] {
        let page = h.http_get(missing).await?;
        assert_eq!(page.status, 404, "{missing}");
        assert!(page.body.contains("not found"), "{missing}: {}", page.body);
    }
    Ok(())
}
