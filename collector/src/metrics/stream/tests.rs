use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_stream::StreamExt as _;

use super::{Streaming, spawn};
use crate::agents::directory::{Directory, DownlinkTx, LinkHandle};
use crate::domain::{AgentId, Phases, ProbeOutcome, ServiceId};
use crate::metrics::Metrics;
use crate::metrics::chunks::Stopped;
use crate::metrics::exposition::Format;
use crate::metrics::scrape::Scraped;

/// `services` services (one with a label value to escape) × 3 agents,
/// each pair with a probe, every agent assigned to every service.
fn metrics(services: usize) -> Arc<Metrics> {
    let mut toml = String::from(
        "[collector]\ndatabase = \"sqlite://t.db\"\n[agents]\nenrollment_token = \"test-token-0123456789abcdef\"\n[[equipment]]\nid = \"rack\"\n",
    );
    for i in 0..services {
        toml.push_str(&format!(
            "[[services]]\nid = \"svc-{i}\"\nequipment = \"rack\"\nurl = \"https://svc-{i}.example.test/\"\n"
        ));
    }
    let config = crate::config::parse(Path::new("t.toml"), &toml).expect("generated config");
    let m = Metrics::new();
    m.reconfigure(&config);
    let agents: Vec<AgentId> = (0..3).map(|a| AgentId::from(format!("a{a}"))).collect();
    let ids: Vec<ServiceId> = (0..services).map(|i| format!("svc-{i}").into()).collect();
    let directory = Directory {
        agents: agents
            .iter()
            .map(|id| {
                let (tx, _rx) = DownlinkTx::channel(1);
                let name = format!("edge \"{id}\"");
                let link = LinkHandle {
                    id: id.clone(),
                    name,
                    region: "eu".into(),
                    tx,
                };
                (id.clone(), link)
            })
            .collect(),
        by_service: ids.iter().map(|s| (s.clone(), agents.clone())).collect(),
        services: Arc::new(HashSet::new()),
    };
    m.published(&Arc::new(directory), &Arc::default());
    for (i, service) in ids.iter().enumerate() {
        for agent in &agents {
            let outcome = ProbeOutcome {
                ok: i % 7 != 0,
                status_code: Some(200),
                error_kind: None,
                error: None,
                duration_us: 1000 + i as u64,
                phases: Phases::default(),
                cert_not_after_ms: Some(1_798_848_000_000),
            };
            m.probes.record(service, agent, 1000, &outcome);
        }
    }
    m.results_ingested.inc_by(3);
    Arc::new(m)
}

/// The render in chunks of `size` bytes.
fn chunks(m: &Metrics, format: Format, size: usize) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut send = |chunk: Vec<u8>| {
        chunks.push(chunk);
        Ok(())
    };
    m.render_to(format, &Scraped::default(), size, &mut send)
        .expect("nobody stops");
    chunks
}

#[test]
fn chunked_output_equals_the_unchunked_one_in_both_formats() {
    let m = metrics(300);
    for format in [Format::Text, Format::OpenMetrics] {
        let whole = m.render_with(format, &Scraped::default());
        let chunked = chunks(&m, format, 1000);
        assert!(chunked.len() > 100, "{} chunks", chunked.len());
        assert_eq!(String::from_utf8(chunked.concat()).unwrap(), whole);
        assert_eq!(whole.ends_with("# EOF\n"), format == Format::OpenMetrics);
        assert_eq!(
            whole.matches("# EOF").count(),
            usize::from(format == Format::OpenMetrics)
        );
    }
}

#[test]
fn a_family_is_never_split_by_another() {
    let m = metrics(300);
    for format in [Format::Text, Format::OpenMetrics] {
        let text = String::from_utf8(chunks(&m, format, 512).concat()).unwrap();
        let mut seen = HashSet::new();
        let mut current = "";
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap();
                assert!(seen.insert(current), "{current} declared twice");
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let suffix = name.strip_prefix(current);
                assert!(
                    matches!(suffix, Some("" | "_total" | "_bucket" | "_sum" | "_count")),
                    "{name} inside family {current}"
                );
            }
        }
        assert!(
            seen.contains("probe_http_duration_seconds") && seen.contains("picket_service_state")
        );
    }
}

#[test]
fn chunks_stay_within_the_chunk_size_plus_one_line() {
    let m = metrics(1000);
    let size = 4096;
    let mut sizes = Vec::new();
    let mut send = |chunk: Vec<u8>| {
        assert_eq!(chunk.last(), Some(&b'\n'), "a chunk ends at a line end");
        sizes.push(chunk.len());
        Ok(())
    };
    let rendered = m
        .render_to(Format::Text, &Scraped::default(), size, &mut send)
        .unwrap();
    let text = m.render_with(Format::Text, &Scraped::default());
    let longest = text.lines().map(|l| l.len() + 1).max().unwrap();
    let (last, full) = sizes.split_last().unwrap();
    assert!(*last <= size + longest);
    for &s in full {
        assert!((size..size + longest).contains(&s), "chunk of {s} bytes");
    }
    assert_eq!(rendered.bytes, text.len());
    // What is held at once is a chunk and one shard's lines, not the body.
    assert!(
        rendered.peak_buffered < text.len() / 20,
        "held {} of {}",
        rendered.peak_buffered,
        text.len()
    );
}

#[tokio::test]
async fn the_render_stops_when_the_body_is_dropped() {
    let m = metrics(1000);
    let how = Streaming {
        chunk: 1024,
        queue: 1,
        stall: Duration::from_secs(3600),
    };
    let (mut stream, render) = spawn(m, Format::Text, Scraped::default(), how);
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    assert_eq!(render.await.unwrap(), Err(Stopped));
}

#[tokio::test]
async fn a_scraper_that_stops_reading_is_given_up_and_sees_an_error() {
    let m = metrics(1000);
    let how = Streaming {
        chunk: 1024,
        queue: 1,
        stall: Duration::from_millis(50),
    };
    let (stream, render) = spawn(m, Format::Text, Scraped::default(), how);
    assert_eq!(render.await.unwrap(), Err(Stopped));
    let pieces: Vec<_> = stream.collect().await;
    assert!(pieces[..pieces.len() - 1].iter().all(Result::is_ok));
    assert!(pieces.last().unwrap().is_err(), "cut off, not ended");
}

#[tokio::test]
async fn a_streamed_render_is_the_whole_exposition() {
    let m = metrics(300);
    let whole = m.render_with(Format::OpenMetrics, &Scraped::default());
    let how = Streaming {
        chunk: 2048,
        ..Streaming::default()
    };
    let (stream, render) = spawn(m, Format::OpenMetrics, Scraped::default(), how);
    let pieces: Vec<_> = stream.collect().await;
    let text: Vec<u8> = pieces
        .into_iter()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(String::from_utf8(text).unwrap(), whole);
    assert_eq!(render.await.unwrap().unwrap().bytes, whole.len());
}
