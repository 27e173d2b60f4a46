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
      1100.0,
      700.0
    ],
    "openinpresentation": 1,
    "default_fontsize": 10.0,
    "default_fontname": "Arial Bold",
    "description": "diffband: grow instrument layers from the captured audio with diffusion models",
    "boxes": [
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
          "id": "obj-1",
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
          "id": "obj-2",
          "patching_rect": [
            20,
            520,
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
          "id": "obj-3",
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
          "id": "obj-4",
          "patching_rect": [
            300,
            300,
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
              "parameter_mmax": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            8,
            8,
            60,
            20
          ],
          "id": "obj-5",
          "patching_rect": [
            120,
            40,
            60,
            20
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "t i i",
          "numinlets": 1,
          "numoutlets": 2,
          "outlettype": [
            "int",
            "int"
          ],
          "id": "obj-6",
          "patching_rect": [
            120,
            80,
            40,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "sel 0",
          "numinlets": 2,
          "numoutlets": 2,
          "outlettype": [
            "bang",
            ""
          ],
          "id": "obj-7",
          "patching_rect": [
            260,
            80,
            40,
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
          "text": "capture",
          "id": "obj-8",
          "patching_rect": [
            260,
            120,
            50,
            22
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
              "parameter_unitstyle": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            72,
            8,
            44,
            15
          ],
          "id": "obj-9",
          "patching_rect": [
            460,
            40,
            44,
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
          "id": "obj-10",
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
          "id": "obj-11",
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
          "text": "js diffband.js 9001",
          "numinlets": 1,
          "numoutlets": 5,
          "outlettype": [
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
          "id": "obj-12",
          "patching_rect": [
            300,
            260,
            140,
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
          "id": "obj-13",
          "patching_rect": [
            560,
            120,
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
          "id": "obj-14",
          "patching_rect": [
            560,
            160,
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
              "parameter_mmax": 2
            }
          },
          "presentation": 1,
          "presentation_rect": [
            8,
            30,
            150,
            18
          ],
          "id": "obj-15",
          "patching_rect": [
            640,
            40,
            150,
            18
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
          "id": "obj-16",
          "patching_rect": [
            640,
            80,
            100,
            22.0
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
                "violin",
                "guitar",
                "voice"
              ],
              "parameter_mmax": 2
            }
          },
          "presentation": 1,
          "presentation_rect": [
            8,
            52,
            70,
            15
          ],
          "id": "obj-17",
          "patching_rect": [
            750,
            40,
            70,
            15
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
          "id": "obj-18",
          "patching_rect": [
            750,
            80,
            100,
            22.0
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
                "violin",
                "guitar",
                "voice"
              ],
              "parameter_mmax": 3,
              "parameter_initial": [
                2
              ],
              "parameter_initial_enable": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            82,
            52,
            70,
            15
          ],
          "id": "obj-19",
          "patching_rect": [
            860,
            40,
            70,
            15
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
          "id": "obj-20",
          "patching_rect": [
            860,
            80,
            100,
            22.0
          ]
        }
      },
      {
        "box": {
          "maxclass": "live.dial",
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
              "parameter_mmin": 0.0,
              "parameter_mmax": 1.0,
              "parameter_initial": [
                0.5
              ],
              "parameter_initial_enable": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            160,
            8,
            44,
            48
          ],
          "id": "obj-21",
          "patching_rect": [
            640,
            130,
            44,
            48
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend strength",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-22",
          "patching_rect": [
            640,
            170,
            100,
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
          "varname": "Steps",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Steps",
              "parameter_shortname": "Steps",
              "parameter_type": 1,
              "parameter_mmin": 1.0,
              "parameter_mmax": 200.0,
              "parameter_initial": [
                20
              ],
              "parameter_initial_enable": 1
            }
          },
          "presentation": 1,
          "presentation_rect": [
            210,
            8,
            40,
            15
          ],
          "id": "obj-23",
          "patching_rect": [
            750,
            130,
            40,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend steps",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-24",
          "patching_rect": [
            750,
            170,
            100,
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
          "varname": "Seed",
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_longname": "Seed",
              "parameter_shortname": "Seed",
              "parameter_type": 1,
              "parameter_mmin": 0.0,
              "parameter_mmax": 9999.0
            }
          },
          "presentation": 1,
          "presentation_rect": [
            210,
            28,
            40,
            15
          ],
          "id": "obj-25",
          "patching_rect": [
            860,
            130,
            40,
            15
          ]
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend seed",
          "numinlets": 2,
          "numoutlets": 1,
          "outlettype": [
            ""
          ],
          "id": "obj-26",
          "patching_rect": [
            860,
            170,
            100,
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
            256,
            8,
            18,
            18
          ],
          "id": "obj-27",
          "patching_rect": [
            560,
            220,
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
          "id": "obj-28",
          "patching_rect": [
            590,
            220,
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
            276,
            8,
            50,
            18
          ],
          "id": "obj-29",
          "patching_rect": [
            560,
            250,
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
          "id": "obj-30",
          "patching_rect": [
            300,
            340,
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
          "id": "obj-31",
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
          "id": "obj-32",
          "patching_rect": [
            460,
            340,
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
          "id": "obj-33",
          "patching_rect": [
            460,
            380,
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
          "id": "obj-34",
          "patching_rect": [
            460,
            420,
            200,
            16
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
          "id": "obj-35",
          "patching_rect": [
            20,
            380,
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
          "id": "obj-36",
          "patching_rect": [
            20,
            430,
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
          "id": "obj-37",
          "patching_rect": [
            20,
            600,
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
          "id": "obj-38",
          "patching_rect": [
            20,
            460,
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
          "id": "obj-39",
          "patching_rect": [
            50,
            460,
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
          "id": "obj-40",
          "patching_rect": [
            20,
            490,
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
          "id": "obj-41",
          "patching_rect": [
            160,
            430,
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
          "id": "obj-42",
          "patching_rect": [
            160,
            600,
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
          "id": "obj-43",
          "patching_rect": [
            160,
            460,
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
          "id": "obj-44",
          "patching_rect": [
            190,
            460,
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
          "id": "obj-45",
          "patching_rect": [
            160,
            490,
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
          "id": "obj-46",
          "patching_rect": [
            300,
            430,
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
          "id": "obj-47",
          "patching_rect": [
            300,
            600,
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
          "id": "obj-48",
          "patching_rect": [
            300,
            460,
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
          "id": "obj-49",
          "patching_rect": [
            330,
            460,
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
          "id": "obj-50",
          "patching_rect": [
            300,
            490,
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
            "obj-1",
            0
          ],
          "destination": [
            "obj-2",
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
            "obj-2",
            1
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
            "obj-3",
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
            "obj-3",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-5",
            0
          ],
          "destination": [
            "obj-6",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-6",
            1
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
            "obj-7",
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
            "obj-9",
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
            "obj-11",
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
            "obj-4",
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
            "obj-12",
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
            "obj-12",
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
            "obj-12",
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
            "obj-18",
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
            "obj-12",
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
            "obj-12",
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
            "obj-12",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-23",
            0
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
            "obj-24",
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
            "obj-25",
            0
          ],
          "destination": [
            "obj-26",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-26",
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
            "obj-30",
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
            "obj-12",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-12",
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
            "obj-12",
            2
          ],
          "destination": [
            "obj-32",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-32",
            0
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
            "obj-12",
            3
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
            "obj-12",
            4
          ],
          "destination": [
            "obj-35",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-35",
            0
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
            "obj-38",
            0
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
            "obj-2",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-40",
            1
          ],
          "destination": [
            "obj-2",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-35",
            1
          ],
          "destination": [
            "obj-41",
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
            "obj-44",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-44",
            0
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
            "obj-45",
            0
          ],
          "destination": [
            "obj-2",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-45",
            1
          ],
          "destination": [
            "obj-2",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-35",
            2
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
            "obj-50",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-50",
            0
          ],
          "destination": [
            "obj-2",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-50",
            1
          ],
          "destination": [
            "obj-2",
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
