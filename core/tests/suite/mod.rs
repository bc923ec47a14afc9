mod agent;
mod apply_patch;
mod providers;
mod sandbox;
mod support;
mod tools;
