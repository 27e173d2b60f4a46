{
  "patcher": {
    "fileversion": 1,
    "appversion": {
      "major": 8,
      "minor": 6,
      "revision": 0,
      "architecture": "x64",
      "modernui": 1
    },
    "classnamespace": "box",
    "rect": [
      100.0,
      100.0,
      1300.0,
      760.0
    ],
    "openinpresentation": 1,
    "devicewidth": 598.0,
    "default_fontsize": 10.0,
    "default_fontname": "Arial Bold",
    "description": "diffband: grow instrument layers from the captured audio with diffusion models",
    "boxes": [
      {
        "box": {
          "maxclass": "newobj",
          "text": "js diffband.js 9001",
          "numinlets": 1,
          "numoutlets": 7,
          "outlettype": [
            "",
            "",
            "",
            "",
            "",
            "",
            ""
          ],
          "saved_object_attributes": {
            "filename": "diffband.js",
            "parameter_enable": 0
          },
          "id": "obj-1",
          "patching_rect": [
            300,
            260,
            160,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "plugin~",
          "numinlets": 2,
          "numoutlets": 2,
          "outlettype": [
            "signal",
            "signal"
          ],
          "id": "obj-2",
          "patching_rect": [
            20,
            20,
            60,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "plugout~",
          "numinlets": 2,
          "numoutlets": 2,
          "outlettype": [
            "signal",
            "signal"
          ],
          "id": "obj-3",
          "patching_rect": [
            20,
            560,
            60,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "record~ ---capture 2",
          "numinlets": 4,
          "numoutlets": 1,
          "outlettype": [
            "signal"
          ],
          "id": "obj-4",
          "patching_rect": [
            120,
            120,
            130,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "buffer~ ---capture 10000 2",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "float",
            "bang"
          ],
          "id": "obj-5",
          "patching_rect": [
            300,
            320,
            150,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.text",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            ""
          ],
          "varname": "Capture",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Capture",
              "parameter_shortname": "Capture",
              "parameter_type": 2,
              "parameter_enum": [
                "off",
                "on"
              ],
              "parameter_mmax": 1,
              "parameter_info": "on: record the track's audio; off: send what was recorded as a job"
            }
          },
          "presentation": 1,
          "presentation_rect": [
            8,
            8,
            56,
            18
          ],
          "id": "obj-6",
          "patching_rect": [
            120,
            40,
            56,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "t i i b",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "int",
            "int",
            "bang"
          ],
          "id": "obj-7",
          "patching_rect": [
            120,
            80,
            60,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "snapshot~",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            "float"
          ],
          "id": "obj-8",
          "patching_rect": [
            200,
            160,
            60,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend recorded",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-9",
          "patching_rect": [
            200,
            190,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend capture",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-10",
          "patching_rect": [
            120,
            190,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Length",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Length",
              "parameter_shortname": "Length",
              "parameter_type": 0,
              "parameter_mmin": 1.0,
              "parameter_mmax": 60.0,
              "parameter_initial": [
                10.0
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 1,
              "parameter_info": "seconds the capture buffer holds"
            }
          },
          "presentation": 1,
          "presentation_rect": [
            68,
            8,
            40,
            15
          ],
          "id": "obj-11",
          "patching_rect": [
            460,
            40,
            40,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "* 1000.",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            "float"
          ],
          "id": "obj-12",
          "patching_rect": [
            460,
            80,
            50,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend size",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-13",
          "patching_rect": [
            460,
            120,
            80,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend seconds",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-14",
          "patching_rect": [
            540,
            80,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "loadbang",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            "bang"
          ],
          "id": "obj-15",
          "patching_rect": [
            560,
            160,
            60,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "text": "init",
          "id": "obj-16",
          "patching_rect": [
            560,
            190,
            30,
            22
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.tab",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "",
            "",
            "float"
          ],
          "varname": "Technique",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Technique",
              "parameter_shortname": "Technique",
              "parameter_type": 2,
              "parameter_enum": [
                "accompany",
                "chorus",
                "cross"
              ],
              "parameter_mmax": 2,
              "parameter_initial": [
                0
              ],
              "parameter_initial_enable": 1,
              "parameter_info": "accompany: input (vocals) in: a cleaned, loudness-matched layer per instrument, and the mix (report 5.2); chorus: double-diffusion (report eqs. 4.2-4.3): one generation branched into several models, paired layers; with input audio it starts from the clip; cross: style transfer: diffuse the input to t and denoise with the target model (report eq. 4.1)"
            }
          },
          "presentation": 1,
          "presentation_rect": [
            8,
            30,
            200,
            18
          ],
          "id": "obj-17",
          "patching_rect": [
            640,
            40,
            200,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.menu",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "",
            "",
            "float"
          ],
          "varname": "Instrument",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Instrument",
              "parameter_shortname": "Instrument",
              "parameter_type": 2,
              "parameter_enum": [
                "guitar",
                "violin",
                "voice"
              ],
              "parameter_mmax": 2,
              "parameter_info": "the (first) instrument model"
            }
          },
          "presentation": 1,
          "presentation_rect": [
            8,
            52,
            80,
            15
          ],
          "id": "obj-18",
          "patching_rect": [
            750,
            40,
            80,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.menu",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "",
            "",
            "float"
          ],
          "varname": "Second",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Second",
              "parameter_shortname": "Second",
              "parameter_type": 2,
              "parameter_enum": [
                "none",
                "guitar",
                "violin",
                "voice"
              ],
              "parameter_mmax": 3,
              "parameter_initial": [
                2
              ],
              "parameter_initial_enable": 1,
              "parameter_info": "a second instrument (accompany, chorus)"
            }
          },
          "presentation": 1,
          "presentation_rect": [
            92,
            52,
            80,
            15
          ],
          "id": "obj-19",
          "patching_rect": [
            860,
            40,
            80,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend technique",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-20",
          "patching_rect": [
            640,
            80,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend instrument1",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-21",
          "patching_rect": [
            750,
            80,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend instrument2",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-22",
          "patching_rect": [
            860,
            80,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Strength",
          "presentation": 1,
          "presentation_rect": [
            346,
            8,
            62,
            15
          ],
          "id": "obj-23",
          "patching_rect": [
            640,
            120,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Strength",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Strength",
              "parameter_shortname": "Strength",
              "parameter_type": 0,
              "parameter_info": "t/T the input is diffused to: 0 keeps it, 1 ignores it",
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial": [
                0.9
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            410,
            8,
            56,
            15
          ],
          "id": "obj-24",
          "patching_rect": [
            640,
            140,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option strength",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-25",
          "patching_rect": [
            640,
            170,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Layer Gain",
          "presentation": 1,
          "presentation_rect": [
            346,
            26,
            62,
            15
          ],
          "id": "obj-26",
          "patching_rect": [
            750,
            120,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Layer Gain",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Layer Gain",
              "parameter_shortname": "Layer Gain",
              "parameter_type": 0,
              "parameter_info": "layer loudness relative to the input, dB",
              "parameter_mmin": -60.0,
              "parameter_mmax": 12.0,
              "parameter_initial": [
                -3.0
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            410,
            26,
            56,
            15
          ],
          "id": "obj-27",
          "patching_rect": [
            750,
            140,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option layer_gain",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-28",
          "patching_rect": [
            750,
            170,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Steps",
          "presentation": 1,
          "presentation_rect": [
            346,
            44,
            62,
            15
          ],
          "id": "obj-29",
          "patching_rect": [
            860,
            120,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Steps",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Steps",
              "parameter_shortname": "Steps",
              "parameter_type": 1,
              "parameter_info": "sampler steps over the whole schedule",
              "parameter_mmin": 1.0,
              "parameter_mmax": 1000.0,
              "parameter_initial": [
                10
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 0
            }
          },
          "presentation": 1,
          "presentation_rect": [
            410,
            44,
            56,
            15
          ],
          "id": "obj-30",
          "patching_rect": [
            860,
            140,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option steps",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-31",
          "patching_rect": [
            860,
            170,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Seed",
          "presentation": 1,
          "presentation_rect": [
            346,
            62,
            62,
            15
          ],
          "id": "obj-32",
          "patching_rect": [
            970,
            120,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Seed",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Seed",
              "parameter_shortname": "Seed",
              "parameter_type": 1,
              "parameter_info": "random seed; the same seed gives the same layers",
              "parameter_mmin": 0.0,
              "parameter_mmax": 2147483647.0,
              "parameter_initial": [
                0
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 0
            }
          },
          "presentation": 1,
          "presentation_rect": [
            410,
            62,
            56,
            15
          ],
          "id": "obj-33",
          "patching_rect": [
            970,
            140,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option seed",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-34",
          "patching_rect": [
            970,
            170,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Sampler",
          "presentation": 1,
          "presentation_rect": [
            346,
            80,
            62,
            15
          ],
          "id": "obj-35",
          "patching_rect": [
            640,
            190,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.menu",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "",
            "",
            "float"
          ],
          "varname": "Sampler",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Sampler",
              "parameter_shortname": "Sampler",
              "parameter_type": 2,
              "parameter_info": "ddim (deterministic at eta 0) or ddpm (ancestral)",
              "parameter_enum": [
                "ddim",
                "ddpm"
              ],
              "parameter_mmax": 1,
              "parameter_initial": [
                0
              ],
              "parameter_initial_enable": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            410,
            80,
            56,
            15
          ],
          "id": "obj-36",
          "patching_rect": [
            640,
            210,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option sampler",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-37",
          "patching_rect": [
            640,
            240,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Eta",
          "presentation": 1,
          "presentation_rect": [
            346,
            98,
            62,
            15
          ],
          "id": "obj-38",
          "patching_rect": [
            750,
            190,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Eta",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Eta",
              "parameter_shortname": "Eta",
              "parameter_type": 0,
              "parameter_info": "DDIM eta (0: deterministic)",
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial": [
                0.0
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            410,
            98,
            56,
            15
          ],
          "id": "obj-39",
          "patching_rect": [
            750,
            210,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option eta",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-40",
          "patching_rect": [
            750,
            240,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Eps Scale",
          "presentation": 1,
          "presentation_rect": [
            472,
            8,
            62,
            15
          ],
          "id": "obj-41",
          "patching_rect": [
            860,
            190,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Eps Scale",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Eps Scale",
              "parameter_shortname": "Eps Scale",
              "parameter_type": 0,
              "parameter_info": "epsilon scaling: the model's noise estimate is divided by this at every step (above 1 counters a small model's drift toward noisy images)",
              "parameter_mmin": 1.0,
              "parameter_mmax": 1.2,
              "parameter_initial": [
                1.0
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            536,
            8,
            56,
            15
          ],
          "id": "obj-42",
          "patching_rect": [
            860,
            210,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option eps_scale",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-43",
          "patching_rect": [
            860,
            240,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Follow",
          "presentation": 1,
          "presentation_rect": [
            472,
            26,
            62,
            15
          ],
          "id": "obj-44",
          "patching_rect": [
            970,
            190,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.menu",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "",
            "",
            "float"
          ],
          "varname": "Follow",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Follow",
              "parameter_shortname": "Follow",
              "parameter_type": 2,
              "parameter_info": "follow the input's notes with the models' condition channel: notes (and re-tune a layer's passages that stray 40 cents or more from them), loose (the condition alone: the model's own intonation), off (the report's method) or auto (notes when every model has one)",
              "parameter_enum": [
                "auto",
                "notes",
                "loose",
                "off"
              ],
              "parameter_mmax": 3,
              "parameter_initial": [
                0
              ],
              "parameter_initial_enable": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            536,
            26,
            56,
            15
          ],
          "id": "obj-45",
          "patching_rect": [
            970,
            210,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option follow",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-46",
          "patching_rect": [
            970,
            240,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Guidance",
          "presentation": 1,
          "presentation_rect": [
            472,
            44,
            62,
            15
          ],
          "id": "obj-47",
          "patching_rect": [
            640,
            260,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Guidance",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Guidance",
              "parameter_shortname": "Guidance",
              "parameter_type": 0,
              "parameter_info": "classifier-free guidance scale of follow: 0 ignores the notes, 1 plain conditional, above 1 stronger",
              "parameter_mmin": 0.0,
              "parameter_mmax": 10.0,
              "parameter_initial": [
                2.0
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            536,
            44,
            56,
            15
          ],
          "id": "obj-48",
          "patching_rect": [
            640,
            280,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option guidance",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-49",
          "patching_rect": [
            640,
            310,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Octave",
          "presentation": 1,
          "presentation_rect": [
            472,
            62,
            62,
            15
          ],
          "id": "obj-50",
          "patching_rect": [
            750,
            260,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Octave",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Octave",
              "parameter_shortname": "Octave",
              "parameter_type": 1,
              "parameter_info": "grow the layers this many octaves above (or below, negative) the input, which is pitch-shifted first: a model follows notes best in its instrument's own range (a violin over a guitar part: 1)",
              "parameter_mmin": -2.0,
              "parameter_mmax": 2.0,
              "parameter_initial": [
                0
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 0
            }
          },
          "presentation": 1,
          "presentation_rect": [
            536,
            62,
            56,
            15
          ],
          "id": "obj-51",
          "patching_rect": [
            750,
            280,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option octave",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-52",
          "patching_rect": [
            750,
            310,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Register",
          "presentation": 1,
          "presentation_rect": [
            472,
            80,
            62,
            15
          ],
          "id": "obj-53",
          "patching_rect": [
            860,
            260,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.menu",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "",
            "",
            "float"
          ],
          "varname": "Register",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Register",
              "parameter_shortname": "Register",
              "parameter_type": 2,
              "parameter_info": "fit keeps the input's notes but grows a layer whose input lies below the instrument's range up in that range, then brings it back down, as a sampler would; input grows every layer where the input plays; instrument moves it by the fewest whole octaves into the middle half of each model's range (models that record one), as a player doubling a part would; octave adds to each",
              "parameter_enum": [
                "input",
                "instrument",
                "fit"
              ],
              "parameter_mmax": 2,
              "parameter_initial": [
                2
              ],
              "parameter_initial_enable": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            536,
            80,
            56,
            15
          ],
          "id": "obj-54",
          "patching_rect": [
            860,
            280,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option register",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-55",
          "patching_rect": [
            860,
            310,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "Split",
          "presentation": 1,
          "presentation_rect": [
            472,
            98,
            62,
            15
          ],
          "id": "obj-56",
          "patching_rect": [
            970,
            260,
            100,
            18
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "",
            "float"
          ],
          "varname": "Split",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Split",
              "parameter_shortname": "Split",
              "parameter_type": 0,
              "parameter_info": "share of the steps the first model does alone before the layers branch",
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial": [
                0.2
              ],
              "parameter_initial_enable": 1,
              "parameter_unitstyle": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            536,
            98,
            56,
            15
          ],
          "id": "obj-57",
          "patching_rect": [
            970,
            280,
            56,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend option split",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-58",
          "patching_rect": [
            970,
            310,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            "bang"
          ],
          "presentation": 1,
          "presentation_rect": [
            176,
            52,
            15,
            15
          ],
          "id": "obj-59",
          "patching_rect": [
            560,
            230,
            20,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "text": "refresh",
          "id": "obj-60",
          "patching_rect": [
            590,
            230,
            45,
            22
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "models",
          "presentation": 1,
          "presentation_rect": [
            192,
            52,
            60,
            15
          ],
          "id": "obj-61",
          "patching_rect": [
            560,
            255,
            60,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            "bang"
          ],
          "presentation": 1,
          "presentation_rect": [
            212,
            8,
            18,
            18
          ],
          "id": "obj-62",
          "patching_rect": [
            640,
            230,
            20,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "text": "cancel",
          "id": "obj-63",
          "patching_rect": [
            670,
            230,
            45,
            22
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "cancel",
          "presentation": 1,
          "presentation_rect": [
            232,
            8,
            50,
            18
          ],
          "id": "obj-64",
          "patching_rect": [
            640,
            255,
            60,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "udpsend 127.0.0.1 9000",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "id": "obj-65",
          "patching_rect": [
            300,
            360,
            150,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "udpreceive 9001",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-66",
          "patching_rect": [
            300,
            200,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-67",
          "patching_rect": [
            460,
            360,
            80,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "outlettype": [],
          "text": "starting ...",
          "presentation": 1,
          "presentation_rect": [
            8,
            72,
            330,
            18
          ],
          "id": "obj-68",
          "patching_rect": [
            460,
            400,
            400,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "floatoutput": 1,
          "size": 1.0,
          "orientation": 1,
          "presentation": 1,
          "presentation_rect": [
            8,
            92,
            330,
            10
          ],
          "id": "obj-69",
          "patching_rect": [
            460,
            440,
            200,
            16
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "route instrument1 instrument2 strength layer_gain steps seed sampler eta eps_scale follow guidance octave register split",
          "numinlets": 2,
          "numoutlets": 15,
          "outlettype": [
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            ""
          ],
          "id": "obj-70",
          "patching_rect": [
            760,
            320,
            400,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "route 0 1 2",
          "numinlets": 2,
          "numoutlets": 4,
          "outlettype": [
            "",
            "",
            "",
            ""
          ],
          "id": "obj-71",
          "patching_rect": [
            20,
            400,
            90,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "buffer~ ---layer0 1000 2",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "float",
            "bang"
          ],
          "id": "obj-72",
          "patching_rect": [
            20,
            450,
            130,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "waveform~",
          "numinlets": 5,
          "numoutlets": 6,
          "outlettype": [
            "float",
            "float",
            "float",
            "float",
            "list",
            ""
          ],
          "buffername": "---layer0",
          "presentation": 1,
          "presentation_rect": [
            8,
            108,
            108,
            36
          ],
          "id": "obj-73",
          "patching_rect": [
            20,
            640,
            130,
            40
          ]
        }
      },
      {
        "box": {
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            "bang"
          ],
          "presentation": 1,
          "presentation_rect": [
            8,
            146,
            14,
            14
          ],
          "id": "obj-74",
          "patching_rect": [
            20,
            480,
            20,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "text": "start",
          "id": "obj-75",
          "patching_rect": [
            50,
            480,
            35,
            22
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "play~ ---layer0 2",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "signal",
            "signal",
            "bang"
          ],
          "id": "obj-76",
          "patching_rect": [
            20,
            520,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "buffer~ ---layer1 1000 2",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "float",
            "bang"
          ],
          "id": "obj-77",
          "patching_rect": [
            160,
            450,
            130,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "waveform~",
          "numinlets": 5,
          "numoutlets": 6,
          "outlettype": [
            "float",
            "float",
            "float",
            "float",
            "list",
            ""
          ],
          "buffername": "---layer1",
          "presentation": 1,
          "presentation_rect": [
            120,
            108,
            108,
            36
          ],
          "id": "obj-78",
          "patching_rect": [
            160,
            640,
            130,
            40
          ]
        }
      },
      {
        "box": {
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            "bang"
          ],
          "presentation": 1,
          "presentation_rect": [
            120,
            146,
            14,
            14
          ],
          "id": "obj-79",
          "patching_rect": [
            160,
            480,
            20,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "text": "start",
          "id": "obj-80",
          "patching_rect": [
            190,
            480,
            35,
            22
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "play~ ---layer1 2",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "signal",
            "signal",
            "bang"
          ],
          "id": "obj-81",
          "patching_rect": [
            160,
            520,
            110,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "buffer~ ---layer2 1000 2",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "float",
            "bang"
          ],
          "id": "obj-82",
          "patching_rect": [
            300,
            450,
            130,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "waveform~",
          "numinlets": 5,
          "numoutlets": 6,
          "outlettype": [
            "float",
            "float",
            "float",
            "float",
            "list",
            ""
          ],
          "buffername": "---layer2",
          "presentation": 1,
          "presentation_rect": [
            232,
            108,
            108,
            36
          ],
          "id": "obj-83",
          "patching_rect": [
            300,
            640,
            130,
            40
          ]
        }
      },
      {
        "box": {
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "outlettype": [
            "bang"
          ],
          "presentation": 1,
          "presentation_rect": [
            232,
            146,
            14,
            14
          ],
          "id": "obj-84",
          "patching_rect": [
            300,
            480,
            20,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "text": "start",
          "id": "obj-85",
          "patching_rect": [
            330,
            480,
            35,
            22
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "play~ ---layer2 2",
          "numinlets": 1,
          "numoutlets": 3,
          "outlettype": [
            "signal",
            "signal",
            "bang"
          ],
          "id": "obj-86",
          "patching_rect": [
            300,
            520,
            110,
            22.0
          ]
        }
      }
    ],
    "lines": [
      {
        "patchline": {
          "source": [
            "obj-2",
            0
          ],
          "destination": [
            "obj-3",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-2",
            1
          ],
          "destination": [
            "obj-3",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-2",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-2",
            1
          ],
          "destination": [
            "obj-4",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-6",
            0
          ],
          "destination": [
            "obj-7",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-4",
            0
          ],
          "destination": [
            "obj-8",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-7",
            2
          ],
          "destination": [
            "obj-8",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-8",
            0
          ],
          "destination": [
            "obj-9",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-9",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-7",
            1
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-7",
            0
          ],
          "destination": [
            "obj-10",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-10",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-11",
            0
          ],
          "destination": [
            "obj-12",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-12",
            0
          ],
          "destination": [
            "obj-13",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-13",
            0
          ],
          "destination": [
            "obj-5",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-11",
            0
          ],
          "destination": [
            "obj-14",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-14",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-15",
            0
          ],
          "destination": [
            "obj-16",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-16",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-17",
            0
          ],
          "destination": [
            "obj-20",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-20",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-18",
            0
          ],
          "destination": [
            "obj-21",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-21",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-19",
            0
          ],
          "destination": [
            "obj-22",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-22",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-24",
            0
          ],
          "destination": [
            "obj-25",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-25",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-27",
            0
          ],
          "destination": [
            "obj-28",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-28",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-30",
            0
          ],
          "destination": [
            "obj-31",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-31",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-33",
            0
          ],
          "destination": [
            "obj-34",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-34",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-36",
            0
          ],
          "destination": [
            "obj-37",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-37",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-39",
            0
          ],
          "destination": [
            "obj-40",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-40",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-42",
            0
          ],
          "destination": [
            "obj-43",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-43",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-45",
            0
          ],
          "destination": [
            "obj-46",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-46",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-48",
            0
          ],
          "destination": [
            "obj-49",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-49",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-51",
            0
          ],
          "destination": [
            "obj-52",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-52",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-54",
            0
          ],
          "destination": [
            "obj-55",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-55",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-57",
            0
          ],
          "destination": [
            "obj-58",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-58",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-59",
            0
          ],
          "destination": [
            "obj-60",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-60",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-62",
            0
          ],
          "destination": [
            "obj-63",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-63",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-1",
            0
          ],
          "destination": [
            "obj-65",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-66",
            0
          ],
          "destination": [
            "obj-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-1",
            1
          ],
          "destination": [
            "obj-5",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-1",
            2
          ],
          "destination": [
            "obj-67",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-67",
            0
          ],
          "destination": [
            "obj-68",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-1",
            3
          ],
          "destination": [
            "obj-69",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-1",
            5
          ],
          "destination": [
            "obj-66",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-1",
            6
          ],
          "destination": [
            "obj-70",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            0
          ],
          "destination": [
            "obj-18",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            1
          ],
          "destination": [
            "obj-19",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            2
          ],
          "destination": [
            "obj-24",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            3
          ],
          "destination": [
            "obj-27",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            4
          ],
          "destination": [
            "obj-30",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            5
          ],
          "destination": [
            "obj-33",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            6
          ],
          "destination": [
            "obj-36",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            7
          ],
          "destination": [
            "obj-39",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            8
          ],
          "destination": [
            "obj-42",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            9
          ],
          "destination": [
            "obj-45",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            10
          ],
          "destination": [
            "obj-48",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            11
          ],
          "destination": [
            "obj-51",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            12
          ],
          "destination": [
            "obj-54",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-70",
            13
          ],
          "destination": [
            "obj-57",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-1",
            4
          ],
          "destination": [
            "obj-71",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-71",
            0
          ],
          "destination": [
            "obj-72",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-74",
            0
          ],
          "destination": [
            "obj-75",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-75",
            0
          ],
          "destination": [
            "obj-76",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-76",
            0
          ],
          "destination": [
            "obj-3",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-76",
            1
          ],
          "destination": [
            "obj-3",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-71",
            1
          ],
          "destination": [
            "obj-77",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-79",
            0
          ],
          "destination": [
            "obj-80",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-80",
            0
          ],
          "destination": [
            "obj-81",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-81",
            0
          ],
          "destination": [
            "obj-3",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-81",
            1
          ],
          "destination": [
            "obj-3",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-71",
            2
          ],
          "destination": [
            "obj-82",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-84",
            0
          ],
          "destination": [
            "obj-85",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-85",
            0
          ],
          "destination": [
            "obj-86",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-86",
            0
          ],
          "destination": [
            "obj-3",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-86",
            1
          ],
          "destination": [
            "obj-3",
            1
          ]
        }
      }
    ],
    "dependency_cache": [
      {
        "name": "diffband.js",
        "bootpath": ".",
        "type": "TEXT",
        "implicit": 1
      }
    ]
  }
}
