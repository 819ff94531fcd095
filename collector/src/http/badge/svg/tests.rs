//! The SVG parsed as XML: text, colour, dimensions, accessibility, and
//! escaping.

use super::*;

/// What a viewer would read and see of a rendered badge.
#[derive(Debug)]
struct Seen {
    width: u32,
    title: String,
    aria_label: String,
    role: String,
    /// The visible texts (not the aria-hidden shadows).
    texts: Vec<String>,
    /// The fills of the label and message rectangles, and their widths.
    fills: Vec<(String, u32)>,
}

fn seen(svg: &str) -> Seen {
    let doc = roxmltree::Document::parse(svg).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let number = |n: roxmltree::Node, a: &str| -> u32 {
        n.attribute(a).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let title = root
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or_default()
        .to_owned();
    let texts = root
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("aria-hidden").is_none())
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect();
    let fills = root
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.parent().is_some_and(|p| p.has_tag_name("g")))
        .filter(|n| n.attribute("fill").is_some_and(|f| f.starts_with('#')))
        .map(|n| {
            (
                n.attribute("fill").unwrap_or_default().to_owned(),
                number(n, "width"),
            )
        })
        .collect();
    Seen {
        width: number(root, "width"),
        title,
        aria_label: root.attribute("aria-label").unwrap_or_default().to_owned(),
        role: root.attribute("role").unwrap_or_default().to_owned(),
        texts,
        fills,
    }
}

#[test]
fn a_badge_reads_label_and_message_in_their_colours() {
    let badge = Badge {
        label: "shop",
        message: "up",
        colour: colour::BRIGHT_GREEN,
    };
    let s = seen(&badge.render());
    assert_eq!(s.texts, ["shop", "up"]);
    assert_eq!(
        (s.title.as_str(), s.aria_label.as_str()),
        ("shop: up", "shop: up")
    );
    assert_eq!(s.role, "img");
    let (lw, mw) = badge.widths();
    assert_eq!(
        s.fills,
        [("#555".to_owned(), lw), ("#4c1".to_owned(), mw)],
        "grey label, green message"
    );
    assert_eq!(s.width, lw + mw);
    // Verdana 11px: "shop" is 5.73 + 6.94 + 6.65 + 6.82 = 26.1 px → 27.
    assert_eq!(text_width("shop"), 27);
    assert_eq!(lw, 37);
}

#[test]
fn widths_grow_with_the_text_and_follow_verdana() {
    let w = |t: &str| text_width(t);
    assert!(w("up") < w("down"), "{} {}", w("up"), w("down"));
    assert!(w("down") < w("maintenance"));
    assert!(w("iiii") < w("mmmm"), "proportional, not monospaced");
    assert!(w("WWW") > w("lll") * 2);
    for t in ["", "a", "up", "99.95% 30d", "maintenance"] {
        assert_eq!(w(t) % 2, 1, "odd widths centre on the grid: {t:?}");
    }
    let wide = Badge {
        label: "a-much-longer-service-name",
        message: "maintenance",
        colour: colour::BLUE,
    };
    let narrow = Badge {
        label: "a",
        message: "up",
        colour: colour::BRIGHT_GREEN,
    };
    assert!(seen(&wide.render()).width > seen(&narrow.render()).width + 150);
}

#[test]
fn special_characters_are_escaped_and_read_back() {
    let label = r#"a<b>&"c'"#;
    let badge = Badge {
        label,
        message: "5 < 6",
        colour: colour::RED,
    };
    let svg = badge.render();
    assert!(!svg.contains("a<b>"), "{svg}");
    let s = seen(&svg);
    assert_eq!(s.texts, [label, "5 < 6"]);
    assert_eq!(s.title, format!("{label}: 5 < 6"));
    assert_eq!(s.aria_label, s.title);
    // Control characters cannot be written in XML at all.
    let s = seen(
        &Badge {
            label: "bell\u{7}",
            message: "x",
            colour: colour::GREY,
        }
        .render(),
    );
    assert_eq!(s.texts[0], "bell\u{fffd}");
}

#[test]
fn nothing_is_fetched() {
    let svg = Badge {
        label: "shop",
        message: "down",
        colour: colour::RED,
    }
    .render();
    for external in ["href", "@import", "url(http", "<image", "<style", "<script"] {
        assert!(!svg.contains(external), "{external} in {svg}");
    }
}

/// Different badges inlined in one page keep their own gradient and clip
/// path: every `url(#…)` names an id of its own document, unlike the
/// other badge's.
#[test]
fn different_badges_do_not_share_ids() {
    let ids = |b: &Badge| -> Vec<String> {
        let svg = b.render();
        let doc = roxmltree::Document::parse(&svg).expect("XML");
        let own: Vec<String> = doc
            .descendants()
            .filter_map(|n| n.attribute("id"))
            .map(str::to_owned)
            .collect();
        for n in doc.descendants() {
            for a in n.attributes().filter(|a| a.value().starts_with("url(#")) {
                let id = a.value().trim_start_matches("url(#").trim_end_matches(')');
                assert!(own.iter().any(|o| o == id), "{id} not in {own:?}");
            }
        }
        own
    };
    let up = Badge {
        label: "shop",
        message: "up",
        colour: colour::BRIGHT_GREEN,
    };
    let down = Badge {
        label: "shop",
        message: "down",
        colour: colour::RED,
    };
    let (a, b) = (ids(&up), ids(&down));
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|id| !b.contains(id)), "{a:?} {b:?}");
    assert_eq!(ids(&up), a, "stable for the same badge");
}
