//! Simulated weather: `get_weather` and `get_forecast`. Nothing is fetched. Each day's weather
//! is computed from the city's climate parameters (annual mean and seasonal swing of the
//! temperature, typical daily range, rainy days per year and their season, humidity) and a
//! stable hash of the city and the date, so the same question always gets the same, plausible
//! answer: hot humid summers with thunderstorms in Guangzhou, snow in a Harbin January, dry
//! summers in Rome. Tool descriptions and every answer say that the data are simulated.

use agentune_schema::ToolSpec;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::datetime::{Clock, Date, city_offset};
use super::search::{City, find_city};
use super::{
    Tool, ToolError, json_out, num, opt_int_arg, opt_str_arg, round_to, stable_hash, str_arg,
    unit_from_hash,
};
use crate::Result;

/// One simulated day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayWeather {
    /// The date.
    pub date: Date,
    /// `sunny`, `partly cloudy`, `cloudy`, `fog`, `light rain`, `moderate rain`,
    /// `heavy rain`, `thunderstorm`, `light snow` or `snow`.
    pub condition: &'static str,
    /// The same in Chinese.
    pub condition_zh: &'static str,
    /// Daily high, °C.
    pub temp_high_c: f64,
    /// Daily low, °C.
    pub temp_low_c: f64,
    /// Mean relative humidity, %.
    pub humidity: u32,
    /// Mean wind speed, km/h.
    pub wind_kph: f64,
    /// Precipitation, mm.
    pub precipitation_mm: f64,
    /// Chance of precipitation as a forecaster would state it, %.
    pub chance_of_rain: u32,
}

/// A standard normal draw from a hash (Box-Muller).
fn normal(h: u64) -> f64 {
    let u1 = unit_from_hash(h).max(1e-12);
    let u2 = unit_from_hash(h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Simulates one day of weather in a city. Deterministic: depends only on the city's id and
/// climate and on the date.
pub fn simulate_day(city: &City, date: Date) -> DayWeather {
    let c = &city.climate;
    let key = date.to_string();
    let draw = |what: &str| stable_hash(&[&city.id, &key, what]);
    // Seasonal position: 1 at the warmest time of year (about July 20 in the north, January
    // 20 in the south), -1 at the coldest.
    let peak = if city.lat >= 0.0 { 201.0 } else { 20.0 };
    let season = (std::f64::consts::TAU * (date.day_of_year() as f64 - peak) / 365.25).cos();
    let mean = c.temp_mean + c.temp_amp * season + 2.2 * normal(draw("temp"));

    let base = c.rain_days / 365.0;
    let modulation = match c.rain_season.as_str() {
        "summer" => 1.0 + 0.75 * season,
        "winter" => 1.0 - 0.75 * season,
        _ => 1.0,
    };
    let p_rain = (base * modulation).clamp(0.01, 0.92);
    let wet = unit_from_hash(draw("wet")) < p_rain;
    let u_kind = unit_from_hash(draw("kind"));
    let u_amount = unit_from_hash(draw("amount"));

    let (condition, condition_zh, precipitation) = if wet {
        // Exponential amounts with a mean of 7 mm.
        let mm = round_to(-(1.0 - u_amount).ln() * 7.0 + 0.2, 1);
        if mean <= 0.5 {
            if mm < 3.0 {
                ("light snow", "小雪", mm)
            } else {
                ("snow", "雪", mm)
            }
        } else if mean >= 22.0 && season > 0.3 && u_kind < 0.35 {
            ("thunderstorm", "雷阵雨", mm.max(5.0))
        } else if mm < 2.5 {
            ("light rain", "小雨", mm)
        } else if mm < 10.0 {
            ("moderate rain", "中雨", mm)
        } else {
            ("heavy rain", "大雨", mm)
        }
    } else if u_kind < 0.42 {
        ("sunny", "晴", 0.0)
    } else if u_kind < 0.74 {
        ("partly cloudy", "多云", 0.0)
    } else if u_kind < 0.94 || c.humidity < 65.0 {
        ("cloudy", "阴", 0.0)
    } else {
        ("fog", "雾", 0.0)
    };

    let spread =
        c.diurnal * if wet { 0.6 } else { 1.0 } * (0.85 + 0.3 * unit_from_hash(draw("spread")));
    let humidity = (c.humidity + if wet { 14.0 } else { -3.0 } + 6.0 * normal(draw("hum")))
        .clamp(8.0, 100.0)
        .round() as u32;
    let wind = round_to(
        4.0 + 22.0 * unit_from_hash(draw("wind")).powi(2) + if wet { 6.0 } else { 0.0 },
        0,
    );
    let chance = if wet {
        60.0 + 35.0 * unit_from_hash(draw("chance"))
    } else {
        (p_rain * 60.0 * unit_from_hash(draw("chance"))).min(40.0)
    };
    DayWeather {
        date,
        condition,
        condition_zh,
        temp_high_c: round_to(mean + spread / 2.0, 0),
        temp_low_c: round_to(mean - spread / 2.0, 0),
        humidity,
        wind_kph: wind,
        precipitation_mm: precipitation,
        chance_of_rain: (chance / 5.0).round() as u32 * 5,
    }
}

fn unit_schema() -> Value {
    json!({"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit (default celsius)."})
}

/// One day as the tools report it (fields in reading order).
#[derive(Serialize)]
struct DayOut {
    date: String,
    weekday: &'static str,
    condition: &'static str,
    condition_zh: &'static str,
    temp_high: Value,
    temp_low: Value,
    humidity: u32,
    wind_kph: Value,
    precipitation_mm: Value,
    chance_of_rain: u32,
    sunrise: Option<String>,
    sunset: Option<String>,
}

/// Sunrise and sunset in local time (`HH:MM`) for a city on a date, from the standard solar
/// position approximation (equation of time and declination as Fourier series of the day of
/// the year; a solar depression of 0.833° for refraction and the sun's radius). Accurate to a
/// few minutes. `None` for a day without sunrise or sunset (polar day or night).
pub fn sun_times(city: &City, date: Date) -> (Option<String>, Option<String>) {
    use std::f64::consts::PI;
    let gamma = 2.0 * PI / 365.0 * (date.day_of_year() as f64 - 1.0);
    let eq_time = 229.18
        * (0.000075 + 0.001868 * gamma.cos()
            - 0.032077 * gamma.sin()
            - 0.014615 * (2.0 * gamma).cos()
            - 0.040849 * (2.0 * gamma).sin());
    let decl = 0.006918 - 0.399912 * gamma.cos() + 0.070257 * gamma.sin()
        - 0.006758 * (2.0 * gamma).cos()
        + 0.000907 * (2.0 * gamma).sin()
        - 0.002697 * (3.0 * gamma).cos()
        + 0.00148 * (3.0 * gamma).sin();
    let lat = city.lat.to_radians();
    let cos_ha = 90.833f64.to_radians().cos() / (lat.cos() * decl.cos()) - lat.tan() * decl.tan();
    if !(-1.0..=1.0).contains(&cos_ha) {
        return (None, None);
    }
    let ha = cos_ha.acos().to_degrees();
    // Minutes after midnight UTC; the local offset is the one in force at local noon.
    let noon_unix = date.to_days() * 86_400 + 12 * 3600 - i64::from(city.utc_offset_minutes) * 60;
    let offset = f64::from(city_offset(city, noon_unix));
    let clock = |utc_minutes: f64| {
        let local = (utc_minutes + offset).rem_euclid(1440.0).round() as i64 % 1440;
        format!("{:02}:{:02}", local / 60, local % 60)
    };
    (
        Some(clock(720.0 - 4.0 * (city.lon + ha) - eq_time)),
        Some(clock(720.0 - 4.0 * (city.lon - ha) - eq_time)),
    )
}

fn day_out(city: &City, day: &DayWeather, fahrenheit: bool) -> DayOut {
    let t = |c: f64| {
        num(if fahrenheit {
            round_to(c * 9.0 / 5.0 + 32.0, 0)
        } else {
            c
        })
    };
    let (sunrise, sunset) = sun_times(city, day.date);
    DayOut {
        date: day.date.to_string(),
        weekday: day.date.weekday_name(),
        condition: day.condition,
        condition_zh: day.condition_zh,
        temp_high: t(day.temp_high_c),
        temp_low: t(day.temp_low_c),
        humidity: day.humidity,
        wind_kph: num(day.wind_kph),
        precipitation_mm: num(day.precipitation_mm),
        chance_of_rain: day.chance_of_rain,
        sunrise,
        sunset,
    }
}

#[derive(Serialize)]
struct WeatherOut<'a> {
    city: &'a str,
    city_zh: &'a str,
    country: &'a str,
    #[serde(flatten)]
    day: DayOut,
    unit: &'static str,
    source: &'static str,
}

#[derive(Serialize)]
struct ForecastOut<'a> {
    city: &'a str,
    city_zh: &'a str,
    country: &'a str,
    unit: &'static str,
    days: Vec<DayOut>,
    source: &'static str,
}

fn unit_name(fahrenheit: bool) -> &'static str {
    if fahrenheit { "fahrenheit" } else { "celsius" }
}

fn city_arg(args: &Map<String, Value>) -> Result<&'static City, ToolError> {
    find_city(str_arg(args, "city")?).map_err(|e| ToolError::invalid("city", e))
}

fn fahrenheit(args: &Map<String, Value>) -> bool {
    opt_str_arg(args, "unit") == Some("fahrenheit")
}

fn city_today(clock: &Clock, city: &City) -> Date {
    clock.today(city_offset(city, clock.now_unix()))
}

const NOTE: &str = "simulated weather data, not a real observation or forecast";

/// The `get_weather` tool.
#[derive(Debug)]
pub struct GetWeather {
    spec: ToolSpec,
    clock: Clock,
}

impl GetWeather {
    /// The tool; "today" is read from `clock` in the city's time zone.
    pub fn new(clock: Clock) -> Result<Self> {
        // Loading the cities here surfaces a bad bundled file at registry creation.
        super::search::cities()?;
        Ok(Self {
            spec: ToolSpec::new(
                "get_weather",
                "Get the weather of one day in a city: condition, high and low temperature, \
                 humidity, wind, precipitation, chance of rain, and local sunrise and sunset \
                 times. The weather is SIMULATED (deterministic, realistic for the city's \
                 climate and season), not real observations; sunrise and sunset are computed \
                 astronomically. Cities can be named in English or Chinese.",
                json!({
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "minLength": 1, "description": "City name, e.g. \"Beijing\" or \"北京\"."},
                        "date": {"type": "string", "description": "The day, YYYY-MM-DD (default: today in that city).", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
                        "unit": unit_schema()
                    },
                    "required": ["city"],
                    "additionalProperties": false
                }),
            ),
            clock,
        })
    }
}

impl Tool for GetWeather {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let city = city_arg(args)?;
        let date = match opt_str_arg(args, "date") {
            Some(d) => Date::parse(d).map_err(|e| ToolError::invalid("date", e))?,
            None => city_today(&self.clock, city),
        };
        let f = fahrenheit(args);
        json_out(&WeatherOut {
            city: &city.name,
            city_zh: &city.name_zh,
            country: &city.country,
            day: day_out(city, &simulate_day(city, date), f),
            unit: unit_name(f),
            source: NOTE,
        })
    }
}

/// The `get_forecast` tool.
#[derive(Debug)]
pub struct GetForecast {
    spec: ToolSpec,
    clock: Clock,
}

impl GetForecast {
    /// The tool; the forecast starts today, read from `clock` in the city's time zone.
    pub fn new(clock: Clock) -> Result<Self> {
        super::search::cities()?;
        Ok(Self {
            spec: ToolSpec::new(
                "get_forecast",
                "Get a daily weather forecast for a city for the next 1 to 7 days, starting \
                 today: condition, high and low temperature, chance of rain for each day. The \
                 data are SIMULATED (deterministic, realistic for the city's climate and \
                 season), not a real forecast. Cities can be named in English or Chinese.",
                json!({
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "minLength": 1, "description": "City name, e.g. \"Shanghai\" or \"上海\"."},
                        "days": {"type": "integer", "minimum": 1, "maximum": 7, "description": "Number of days, today included (default 3)."},
                        "unit": unit_schema()
                    },
                    "required": ["city"],
                    "additionalProperties": false
                }),
            ),
            clock,
        })
    }
}

impl Tool for GetForecast {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let city = city_arg(args)?;
        let days = opt_int_arg(args, "days")?.unwrap_or(3);
        if !(1..=7).contains(&days) {
            return Err(ToolError::invalid(
                "days",
                format!("must be 1 to 7, got {days}"),
            ));
        }
        let today = city_today(&self.clock, city);
        let f = fahrenheit(args);
        let mut list = Vec::new();
        for i in 0..days {
            let date = today.add_days(i).map_err(ToolError::Failed)?;
            list.push(day_out(city, &simulate_day(city, date), f));
        }
        json_out(&ForecastOut {
            city: &city.name,
            city_zh: &city.name_zh,
            country: &city.country,
            unit: unit_name(f),
            days: list,
            source: NOTE,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn city(name: &str) -> &'static City {
        find_city(name).unwrap()
    }

    /// Mean daily mean temperature and share of wet days over a month, across several years.
    fn month_stats(c: &City, month: u32) -> (f64, f64) {
        let (mut t, mut wet, mut n) = (0.0, 0.0, 0.0);
        for year in 2020..2030 {
            for day in 1..=28 {
                let w = simulate_day(c, Date::new(year, month, day).unwrap());
                t += (w.temp_high_c + w.temp_low_c) / 2.0;
                wet += f64::from(u8::from(w.precipitation_mm > 0.0));
                n += 1.0;
            }
        }
        (t / n, wet / n)
    }

    #[test]
    fn deterministic() {
        let d = Date::parse("2026-05-01").unwrap();
        assert_eq!(
            simulate_day(city("Beijing"), d),
            simulate_day(city("北京"), d)
        );
        let other = Date::parse("2026-05-02").unwrap();
        let a: Vec<_> = (0..10)
            .map(|i| simulate_day(city("Beijing"), d.add_days(i).unwrap()))
            .collect();
        let b: Vec<_> = (0..10)
            .map(|i| simulate_day(city("Beijing"), other.add_days(i - 1).unwrap()))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn seasons_and_climates_are_realistic() {
        let (bj_jan, _) = month_stats(city("Beijing"), 1);
        let (bj_jul, bj_jul_wet) = month_stats(city("Beijing"), 7);
        let (_, bj_jan_wet) = month_stats(city("Beijing"), 1);
        assert!((-8.0..=0.0).contains(&bj_jan), "Beijing January {bj_jan}");
        assert!((24.0..=30.0).contains(&bj_jul), "Beijing July {bj_jul}");
        assert!(
            bj_jul_wet > 2.0 * bj_jan_wet,
            "monsoon summer rain {bj_jul_wet} vs {bj_jan_wet}"
        );
        let (syd_jan, _) = month_stats(city("Sydney"), 1);
        let (syd_jul, _) = month_stats(city("Sydney"), 7);
        assert!(
            syd_jan > syd_jul + 6.0,
            "southern seasons {syd_jan} {syd_jul}"
        );
        let (_, rome_jul_wet) = month_stats(city("Rome"), 7);
        let (_, rome_nov_wet) = month_stats(city("Rome"), 11);
        assert!(
            rome_nov_wet > 2.0 * rome_jul_wet,
            "dry Mediterranean summer"
        );
        let (sg_jan, _) = month_stats(city("Singapore"), 1);
        let (sg_jul, _) = month_stats(city("Singapore"), 7);
        assert!((sg_jan - sg_jul).abs() < 2.5, "tropics barely change");
        let harbin = city("哈尔滨");
        let snowy = (1..=31)
            .map(|d| simulate_day(harbin, Date::new(2026, 1, d).unwrap()))
            .filter(|w| w.condition.contains("snow"))
            .count();
        let rainy = (1..=31)
            .map(|d| simulate_day(harbin, Date::new(2026, 1, d).unwrap()))
            .filter(|w| w.condition.contains("rain") || w.condition == "thunderstorm")
            .count();
        assert_eq!(rainy, 0, "no rain in a Harbin January");
        assert!(snowy <= 15, "{snowy}");
        for d in 1..=28 {
            let w = simulate_day(city("Cairo"), Date::new(2026, 2, d).unwrap());
            assert!(w.temp_high_c >= w.temp_low_c);
            assert!(w.humidity <= 100);
        }
    }

    #[test]
    fn sunrise_and_sunset_are_close_to_published_times() {
        let at = |c: &str, d: &str| sun_times(city(c), Date::parse(d).unwrap());
        let minutes = |t: &Option<String>| {
            let t = t.as_deref().unwrap();
            let (h, m) = t.split_once(':').unwrap();
            h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()
        };
        // Published almanac times (local), to within 5 minutes.
        for (c, d, rise, set) in [
            ("Beijing", "2026-06-21", 4 * 60 + 46, 19 * 60 + 46),
            ("Beijing", "2026-12-21", 7 * 60 + 33, 16 * 60 + 53),
            ("London", "2026-06-21", 4 * 60 + 43, 21 * 60 + 21),
            ("Sydney", "2026-01-01", 5 * 60 + 47, 20 * 60 + 10),
            ("Singapore", "2026-03-20", 7 * 60 + 10, 19 * 60 + 16),
        ] {
            let (r, s) = at(c, d);
            assert!((minutes(&r) - rise).abs() <= 5, "{c} {d} sunrise {r:?}");
            assert!((minutes(&s) - set).abs() <= 5, "{c} {d} sunset {s:?}");
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn tools_use_the_clock_and_units() {
        let clock = Clock::fixed("2026-03-14T20:00:00Z").unwrap();
        let tool = GetWeather::new(clock.clone()).unwrap();
        // 20:00 UTC is already March 15 in Tokyo.
        let out: Value =
            serde_json::from_str(&tool.call(&args(json!({"city": "东京"}))).unwrap()).unwrap();
        assert_eq!(out["date"], "2026-03-15");
        assert_eq!(out["city"], "Tokyo");
        assert!(out["source"].as_str().unwrap().contains("simulated"));
        // Fields come in reading order, and whole numbers print without ".0".
        let raw = tool.call(&args(json!({"city": "Tokyo"}))).unwrap();
        assert!(
            raw.starts_with(r#"{"city":"Tokyo","city_zh":"东京","country":"Japan","date":"2026-03-15","weekday":"Sunday","condition":"#),
            "{raw}"
        );
        assert!(!raw.contains(".0,") && !raw.contains(".0}"), "{raw}");
        let c: Value = serde_json::from_str(
            &tool
                .call(&args(json!({"city": "Tokyo", "date": "2026-03-15"})))
                .unwrap(),
        )
        .unwrap();
        let f: Value = serde_json::from_str(
            &tool
                .call(&args(
                    json!({"city": "Tokyo", "date": "2026-03-15", "unit": "fahrenheit"}),
                ))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(c, {
            let mut same = out.clone();
            same["date"] = json!("2026-03-15");
            same
        });
        let high_c = c["temp_high"].as_f64().unwrap();
        let high_f = f["temp_high"].as_f64().unwrap();
        assert!(
            (high_f - (high_c * 1.8 + 32.0)).abs() <= 0.5,
            "{high_c} {high_f}"
        );

        let forecast = GetForecast::new(clock).unwrap();
        let out: Value = serde_json::from_str(
            &forecast
                .call(&args(json!({"city": "Shanghai", "days": 5})))
                .unwrap(),
        )
        .unwrap();
        let days = out["days"].as_array().unwrap();
        assert_eq!(days.len(), 5);
        assert_eq!(days[0]["date"], "2026-03-15");
        assert_eq!(days[4]["date"], "2026-03-19");
        let single: Value = serde_json::from_str(
            &tool
                .call(&args(json!({"city": "Shanghai", "date": "2026-03-17"})))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            single["condition"], days[2]["condition"],
            "forecast and weather agree"
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        let tool = GetWeather::new(Clock::Fixed(0)).unwrap();
        let err = tool.call(&args(json!({"city": "Atlantis"}))).unwrap_err();
        assert!(err.to_string().contains("unknown city"), "{err}");
        let err = tool
            .call(&args(json!({"city": "Paris", "date": "next friday"})))
            .unwrap_err();
        assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
        let forecast = GetForecast::new(Clock::Fixed(0)).unwrap();
        let err = forecast
            .call(&args(json!({"city": "Paris", "days": 30})))
            .unwrap_err();
        assert!(err.to_string().contains("1 to 7"), "{err}");
    }
}
