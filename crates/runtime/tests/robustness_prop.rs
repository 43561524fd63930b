//! Property tests: user data never makes the tools panic. Arbitrary expressions, unit names,
//! dates, note names, search queries and argument objects give answers or clear errors.

#![allow(clippy::unwrap_used)]

use agentune_runtime::tools::{Clock, Date, ToolRegistry, evaluate};
use agentune_runtime::validate::validate_arguments;
use agentune_schema::ToolCall;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn registry() -> (tempfile::TempDir, ToolRegistry) {
    let dir = tempfile::tempdir().unwrap();
    let reg =
        ToolRegistry::builtin_with_clock(dir.path(), Clock::fixed("2026-03-14T09:30:00Z").unwrap())
            .unwrap();
    (dir, reg)
}

/// JSON values of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e12f64..1e12).prop_map(|f| json!(f)),
        "[a-z北京 ./-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn calculator_never_panics(expr in "[0-9a-z+*/%^()., -]{0,60}") {
        if let Ok(v) = evaluate(&expr) {
            prop_assert!(v.is_finite());
        }
    }

    #[test]
    fn calculator_agrees_with_integer_arithmetic(a in -1000i64..1000, b in -1000i64..1000, c in 1i64..50) {
        let got = evaluate(&format!("{a} + {b} * {c} - ({a} - {b})")).unwrap();
        prop_assert_eq!(got, (a + b * c - (a - b)) as f64);
    }

    #[test]
    fn dates_round_trip_through_day_numbers(days in -719_162i64..2_932_896) {
        let d = Date::from_days(days);
        prop_assert_eq!(d.to_days(), days);
        prop_assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
        prop_assert_eq!(d.add_days(1).map(|n| n.to_days()).unwrap_or(days + 1), days + 1);
    }

    #[test]
    fn every_tool_survives_arbitrary_arguments(
        tool in 0usize..15,
        args in prop::collection::btree_map("[a-z_]{1,12}", any_json(), 0..4),
    ) {
        let (_dir, reg) = registry();
        let name = reg.names()[tool].to_owned();
        let args: Map<String, Value> = args.into_iter().collect();
        let obs = reg.execute(&ToolCall::new(name.clone(), args));
        prop_assert_eq!(obs.name, name);
        prop_assert!(!obs.content.is_empty());
    }

    #[test]
    fn every_tool_survives_plausible_strings(
        tool in 0usize..15,
        text in "[a-zA-Z0-9 ./\\\\:~年月日北京-]{0,20}",
        number in -1e9f64..1e9,
    ) {
        let (_dir, reg) = registry();
        let spec = reg.specs()[tool].clone();
        // Fill every declared property with a value of its declared type.
        let mut args = Map::new();
        if let Some(props) = spec.parameters_schema()["properties"].as_object() {
            for (key, prop) in props {
                let v = match prop["type"].as_str() {
                    Some("number") => json!(number),
                    Some("integer") => json!(number as i64 % 10),
                    Some("boolean") => json!(number > 0.0),
                    _ => json!(text),
                };
                args.insert(key.clone(), v);
            }
        }
        let obs = reg.execute(&ToolCall::new(spec.name.clone(), args));
        prop_assert!(!obs.content.is_empty());
        // An error observation always explains itself.
        if obs.is_error {
            prop_assert!(obs.content.starts_with("Error: ") && obs.content.len() > 12, "{}", obs.content);
        }
    }

    #[test]
    fn the_validator_never_panics(schema in any_json(), value in any_json()) {
        let args = match value {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("x".into(), other);
                m
            }
        };
        let _ = validate_arguments(&schema, &args);
    }
}
