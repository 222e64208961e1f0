const _: () = {
    use ::lifecycle_core::__private as __lc;
    const _: &[u8] = ::core::include_bytes!(
        ::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/specs/queen.yaml")
    );
    static SPEC_QUEEN_RBEE: __lc::Spec = __lc::spec(
        "specs/queen.yaml",
        "queen-rbee",
        "Queen",
        ::core::option::Option::None,
        __lc::command(
            __lc::template("{binary}", const { &[__lc::var("binary")] }, 14, 11),
            const {
                &[
                    __lc::template("--port", const { &[__lc::lit("--port")] }, 16, 10),
                    __lc::template("{port}", const { &[__lc::var("port")] }, 16, 20),
                ]
            },
            const {
                &[
                    __lc::env_var(
                        "RUST_LOG",
                        __lc::template("info", const { &[__lc::lit("info")] }, 17, 20),
                    ),
                ]
            },
            __lc::InheritEnv::All,
        ),
        const {
            &[
                __lc::var_default("binary", "queen-rbee"),
                __lc::var_default("port", "7833"),
            ]
        },
        ::core::option::Option::Some(
            __lc::readiness(
                __lc::http_probe(
                    __lc::template(
                        "http://127.0.0.1:{port}/health",
                        const {
                            &[
                                __lc::lit("http://127.0.0.1:"),
                                __lc::var("port"),
                                __lc::lit("/health"),
                            ]
                        },
                        27,
                        18,
                    ),
                ),
                30000,
                2000,
                __lc::backoff(100, 3200, 2.0),
            ),
        ),
        const { &[__lc::signal_step(__lc::Signal::Term, 5000)] },
        __lc::local(),
        __lc::restart(
            __lc::RestartPolicy::Never,
            5,
            __lc::backoff(1000, 30000, 2.0),
            60000,
        ),
        &[],
        __lc::logs(::core::option::Option::None, 10485760, 3),
    );
    #[automatically_derived]
    impl __lc::Lifecycle for QueenHandle {
        fn spec(&self) -> &'static __lc::Spec {
            &SPEC_QUEEN_RBEE
        }
        fn var(&self, name: &str) -> ::core::option::Option<::std::string::String> {
            #[allow(non_camel_case_types, dead_code)]
            struct port;
            match name {
                "port" => {
                    ::core::option::Option::Some(
                        ::lifecycle_core::__private::fill::<port, _>(&self.port),
                    )
                }
                _ => ::core::option::Option::None,
            }
        }
    }
};
