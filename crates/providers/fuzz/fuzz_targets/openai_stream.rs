#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use switchyard_providers::openai::StreamDecoder;

fuzz_target!(|data: &[u8]| {
    common::check(data, || Box::new(StreamDecoder::default()));
});
