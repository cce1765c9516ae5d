//! Recipe rules: what a well-formed recipe is, and how a recipe becomes a project —
//! who may fill its role placeholders and how its day offsets become dates — and how a
//! project's dates become offsets again when it is saved as a recipe.
//!
//! The types here are a recipe's structure as plain data; the DAL stores and loads it.
//!
//! Longer than 400 lines only because of its table tests (the rules are ~230 lines),
//! kept beside the rules they pin down.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use crate::ids::UserId;
use crate::roles::{DependencyKind, OrgRole};
use crate::schedule::{self, Breach};
use crate::validate::{self, ValidationError};

/// The most tasks one recipe may hold.
pub const MAX_RECIPE_TASKS: usize = 5_000;
/// The furthest a recipe task may be placed from the project's start (100 years).
pub const MAX_OFFSET_DAYS: i32 = 36_500;
/// The longest role placeholder name, in characters.
pub const MAX_ROLE_CHARS: usize = 100;

#[derive(Clone, Debug, Default)]
pub struct RecipeTask {
    pub id: Uuid,
    /// In input: a name other tasks use in `depends_on`. In output: the task's id.
    pub key: Option<String>,
    pub title: String,
    pub description: String,
    pub start_offset_days: Option<i32>,
    pub due_offset_days: Option<i32>,
    pub duration_days: Option<i32>,
    pub role: Option<String>,
    /// (key of the task depended on, kind); in output the key is the task's id.
    pub depends_on: Vec<(String, DependencyKind)>,
}

#[derive(Clone, Debug, Default)]
pub struct RecipeBox {
    pub name: String,
    pub board_column: bool,
    pub done_column: bool,
    pub tasks: Vec<RecipeTask>,
}

#[derive(Clone, Debug, Default)]
pub struct RecipeSlice {
    pub name: String,
    pub boxes: Vec<RecipeBox>,
}

/// Every task of a recipe, in tree order.
pub fn tasks(slices: &[RecipeSlice]) -> impl Iterator<Item = &RecipeTask> {
    slices.iter().flat_map(|s| &s.boxes).flat_map(|b| &b.tasks)
}

/// Checks a recipe's structure before it is stored: its size, its names, one done
/// column per slice, role names, each task's schedule (offsets within ±100 years, due
/// not before start, duration at least a day) and unique task keys. The first problem
/// found, in tree order, is reported. Dependency keys are checked when they are linked.
pub fn check_structure(slices: &[RecipeSlice]) -> Result<(), ValidationError> {
    let count = tasks(slices).count();
    if count > MAX_RECIPE_TASKS {
        return Err(ValidationError::new(
            "slices",
            format!("a recipe holds at most {MAX_RECIPE_TASKS} tasks (got {count})"),
        ));
    }
    let mut keys = HashSet::new();
    for s in slices {
        validate::name("slices.name", &s.name)?;
        if s.boxes.iter().filter(|b| b.done_column).count() > 1 {
            return Err(ValidationError::new(
                "slices",
                format!("\"{}\" has more than one done column", s.name),
            ));
        }
        for b in &s.boxes {
            validate::name("boxes.name", &b.name)?;
            for t in &b.tasks {
                validate::title("tasks.title", &t.title)?;
                validate::description("tasks.description", &t.description)?;
                if let Some(role) = &t.role {
                    if role.trim().is_empty() || role.chars().count() > MAX_ROLE_CHARS {
                        return Err(ValidationError::new(
                            "tasks.role",
                            format!("1 to {MAX_ROLE_CHARS} characters"),
                        ));
                    }
                }
                check_task_schedule(t)?;
                if let Some(k) = &t.key {
                    if !keys.insert(k.as_str()) {
                        return Err(ValidationError::new(
                            "tasks.key",
                            format!("\"{k}\" is used twice"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A recipe task's offsets are bounded (so that a project's dates stay on the
/// calendar whatever its start) and obey the schedule rule.
fn check_task_schedule(t: &RecipeTask) -> Result<(), ValidationError> {
    let offsets = [t.start_offset_days, t.due_offset_days];
    if offsets
        .into_iter()
        .flatten()
        .any(|o| o.abs() > MAX_OFFSET_DAYS)
    {
        return Err(ValidationError::new(
            "tasks.startOffsetDays/dueOffsetDays",
            format!("must be within ±{MAX_OFFSET_DAYS} days"),
        ));
    }
    schedule::check(t.start_offset_days, t.due_offset_days, t.duration_days).map_err(|breach| {
        match breach {
            Breach::DueBeforeStart => ValidationError::new(
                "tasks.dueOffsetDays",
                format!("\"{}\" is due before it starts", t.title),
            ),
            Breach::DurationBelowOne => {
                ValidationError::new("tasks.durationDays", "must be at least 1")
            }
        }
    })
}

/// The role placeholders a recipe's tasks use.
pub fn roles(slices: &[RecipeSlice]) -> HashSet<&str> {
    tasks(slices).filter_map(|t| t.role.as_deref()).collect()
}

/// Someone asked to fill a role, with what the organization knows of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Casting<'a> {
    pub role: &'a str,
    pub user: UserId,
    /// Their role in the recipe's organization; `None` when they are not a member.
    pub org_role: Option<OrgRole>,
}

/// Why the people given cannot fill the recipe's roles.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CastError {
    #[error("assignments: the recipe has no role \"{0}\"")]
    NoSuchRole(String),
    /// Not a member of the recipe's organization: the caller must be answered exactly
    /// as for a user that does not exist (NOT_FOUND), never told which it is.
    #[error("not found")]
    NotAMember,
    #[error("assignments: guests cannot fill a role; grant them single tasks")]
    Guest,
    #[error("assignments: role \"{0}\" is given twice")]
    GivenTwice(String),
}

/// Who fills which role in a project made from a recipe with `roles`. Each role must
/// be the recipe's, each person a member of its organization and not a GUEST (a role
/// makes its holder a project EDITOR, more than a guest may be given; guests work on
/// single granted tasks), and no role given twice. One person may fill several roles.
/// The first problem, in the order given, is reported.
pub fn cast(
    roles: &HashSet<&str>,
    castings: &[Casting<'_>],
) -> Result<HashMap<String, UserId>, CastError> {
    let mut people = HashMap::new();
    for c in castings {
        if !roles.contains(c.role) {
            return Err(CastError::NoSuchRole(c.role.to_owned()));
        }
        match c.org_role {
            None => return Err(CastError::NotAMember),
            Some(OrgRole::Guest) => return Err(CastError::Guest),
            Some(_) => {}
        }
        if people.insert(c.role.to_owned(), c.user).is_some() {
            return Err(CastError::GivenTwice(c.role.to_owned()));
        }
    }
    Ok(people)
}

/// The date `offset` days after a project's `start` (no offset, no date); refused if it
/// would leave the calendar.
pub fn date_at(
    start: NaiveDate,
    offset: Option<i32>,
) -> Result<Option<NaiveDate>, ValidationError> {
    offset
        .map(|o| {
            start
                .checked_add_signed(Duration::days(i64::from(o)))
                .ok_or_else(|| {
                    ValidationError::new("startDate", "the recipe's dates would leave the calendar")
                })
        })
        .transpose()
}

/// The date a saved project's offsets count from: its start, or when it has none, the
/// earliest of its tasks' dates (each task's start, or its due date when it has no
/// start). `None` when there is no date at all: then no task gets an offset.
pub fn offset_base(
    project_start: Option<NaiveDate>,
    task_dates: impl IntoIterator<Item = (Option<NaiveDate>, Option<NaiveDate>)>,
) -> Option<NaiveDate> {
    project_start.or_else(|| {
        task_dates
            .into_iter()
            .filter_map(|(start, due)| start.or(due))
            .min()
    })
}

/// A saved task's date as an offset from `base`; none without either (or if it does
/// not fit, which a real calendar date cannot reach).
pub fn offset_of(date: Option<NaiveDate>, base: Option<NaiveDate>) -> Option<i32> {
    match (date, base) {
        (Some(d), Some(b)) => i32::try_from((d - b).num_days()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
