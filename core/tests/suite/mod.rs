mod agent;
mod apply_patch;
mod providers;
mod tools;
mod support;
