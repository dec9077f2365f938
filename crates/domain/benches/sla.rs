//! `add_business` on a Mon–Fri 09:00–17:00 Europe/Madrid calendar with holidays, and 24/7,
//! for targets of one hour, one week and one year of business minutes.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use rapport_domain::sla::{BusinessHours, Calendar};

fn office() -> Option<BusinessHours> {
    let calendar: Calendar = serde_json::from_value(serde_json::json!({
        "time_zone": "Europe/Madrid",
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}],
        "holidays": ["2026-12-25", "2027-01-01", "2027-04-02", "2027-05-01", "2027-12-08"]
    }))
    .ok()?;
    calendar.compile().ok()
}

fn add_business(c: &mut Criterion) {
    let Some(office) = office() else {
        return;
    };
    let always = BusinessHours::always();
    // Friday 2026-11-20 16:00 Madrid.
    let Some(start) = Utc.with_ymd_and_hms(2026, 11, 20, 15, 0, 0).single() else {
        return;
    };
    for (name, minutes) in [("1h", 60), ("1week", 7 * 24 * 60), ("1year", 365 * 24 * 60)] {
        c.bench_function(&format!("add_business/office/{name}"), |b| {
            b.iter(|| office.add_business(black_box(start), black_box(minutes)))
        });
        c.bench_function(&format!("add_business/always/{name}"), |b| {
            b.iter(|| always.add_business(black_box(start), black_box(minutes)))
        });
    }
    c.bench_function("business_seconds_between/office/1year", |b| {
        let end = start + chrono::TimeDelta::days(365);
        b.iter(|| office.business_seconds_between(black_box(start), black_box(end)))
    });
}

criterion_group!(benches, add_business);
criterion_main!(benches);
