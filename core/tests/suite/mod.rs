mod agent;
mod apply_patch;
mod providers;
mod support;
mod tools;
