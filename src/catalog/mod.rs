//! Placeholder for the control catalogs while they are built; replaced by the real module.

use std::sync::LazyLock;

pub struct Catalog {
    pub id: String,
    pub title: String,
    pub version: String,
    pub families: Vec<Family>,
}
pub struct Family {
    pub id: String,
    pub title: String,
    pub requirements: Vec<Requirement>,
}
pub struct Requirement {
    pub id: String,
    pub label: String,
    pub title: String,
    pub statement: String,
    pub discussion: String,
    pub withdrawn: bool,
    pub objectives: Vec<Objective>,
    pub parameters: Vec<Parameter>,
}
pub struct Objective {
    pub id: String,
    pub text: String,
}
pub struct Parameter {
    pub id: String,
    pub label: String,
    pub usage: String,
}

impl Catalog {
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.families
            .iter()
            .flat_map(|f| &f.requirements)
            .find(|r| r.id == id)
    }
    pub fn objective(&self, id: &str) -> Option<(&Family, &Requirement, &Objective)> {
        for f in &self.families {
            for r in &f.requirements {
                if let Some(o) = r.objectives.iter().find(|o| o.id == id) {
                    return Some((f, r, o));
                }
            }
        }
        None
    }
    pub fn current_requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.families
            .iter()
            .flat_map(|f| &f.requirements)
            .filter(|r| !r.withdrawn)
    }
}

fn from_scoring(id: &str, title: &str, level1: bool) -> Catalog {
    let Ok(scoring) = crate::scoring::catalog() else {
        return Catalog {
            id: id.into(),
            title: title.into(),
            version: String::new(),
            families: Vec::new(),
        };
    };
    let mut families: Vec<Family> = Vec::new();
    for r in &scoring.requirements {
        if level1 && !scoring.level1.contains(&r.id) {
            continue;
        }
        if families.last().is_none_or(|f| f.id != r.family) {
            families.push(Family {
                id: r.family.clone(),
                title: r.family.clone(),
                requirements: Vec::new(),
            });
        }
        if let Some(f) = families.last_mut() {
            f.requirements.push(Requirement {
                id: r.id.clone(),
                label: r.id.clone(),
                title: r.id.clone(),
                statement: String::new(),
                discussion: String::new(),
                withdrawn: false,
                objectives: r
                    .objectives
                    .iter()
                    .map(|o| Objective {
                        id: o.clone(),
                        text: String::new(),
                    })
                    .collect(),
                parameters: Vec::new(),
            });
        }
    }
    Catalog {
        id: id.into(),
        title: title.into(),
        version: String::new(),
        families,
    }
}

static BUILTINS: LazyLock<Vec<Catalog>> = LazyLock::new(|| {
    vec![
        from_scoring("nist-800-171r2", "NIST SP 800-171 Rev 2", false),
        from_scoring("cmmc-l2", "CMMC 2.0 Level 2", false),
        from_scoring("cmmc-l1", "CMMC 2.0 Level 1", true),
    ]
});

pub fn builtin(id: &str) -> Option<&'static Catalog> {
    BUILTINS.iter().find(|c| c.id == id)
}

pub fn builtins() -> impl Iterator<Item = &'static Catalog> {
    BUILTINS.iter()
}

pub fn scored(id: &str) -> bool {
    matches!(id, "nist-800-171r2" | "cmmc-l2" | "cmmc-l1")
}
